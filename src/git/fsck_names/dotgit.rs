//! The special names and special files of git's fsck rules: `.git`, `.gitmodules` and
//! `.gitattributes` in every spelling HFS+ and NTFS treat as the same name (path.c
//! `is_hfs_dot*`, `is_ntfs_dot*`), and the checks of those two files' contents (fsck.c).

/// The characters of `name` as HFS+ sees them: invalid UTF-8 ends the name (as in git's
/// `next_hfs_char`) and the code points HFS+ ignores are skipped.
pub(super) fn hfs_chars(name: &[u8]) -> impl Iterator<Item = char> + '_ {
    let valid = match std::str::from_utf8(name) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&name[..e.valid_up_to()]).unwrap_or_default(),
    };
    valid.chars().filter(|c| {
        !matches!(
            *c as u32,
            0x200c..=0x200f | 0x202a..=0x202e | 0x206a..=0x206f | 0xfeff
        )
    })
}

/// path.c `is_hfs_dot_generic`: `.` + `needle` (ASCII case-insensitive) with HFS+-ignored
/// code points anywhere, then the end or a `/`.
pub(super) fn is_hfs_dot(name: &[u8], needle: &str) -> bool {
    let mut chars = hfs_chars(name);
    if chars.next() != Some('.') {
        return false;
    }
    for n in needle.chars() {
        match chars.next() {
            Some(c) if c.is_ascii() && c.to_ascii_lowercase() == n => {}
            _ => return false,
        }
    }
    matches!(chars.next(), None | Some('/'))
}

pub(super) fn is_hfs_dotgit(name: &[u8]) -> bool {
    is_hfs_dot(name, "git")
}

pub(super) fn is_hfs_dotgitmodules(name: &[u8]) -> bool {
    is_hfs_dot(name, "gitmodules")
}

/// path.c `is_ntfs_dotgit`: `.git` or its 8.3 short name `git~1` (any case), followed only by
/// spaces and periods (NTFS drops them) up to the end, a separator or a `:` (an alternate data
/// stream such as `.git::$INDEX_ALLOCATION`).
pub(super) fn is_ntfs_dotgit(name: &[u8]) -> bool {
    let lower: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
    let rest = if let Some(r) = lower.strip_prefix(b".git") {
        r
    } else if let Some(r) = lower.strip_prefix(b"git~1") {
        r
    } else {
        return false;
    };
    for &c in rest {
        if c == b'/' || c == b'\\' || c == b':' {
            return true;
        }
        if c != b'.' && c != b' ' {
            return false;
        }
    }
    true
}

/// path.c `is_ntfs_dot_generic`: `.<dotgit_name>`, its short name `<first 6>~1`..`~4`, or a
/// fall-back short name `<prefix>~N` (`shortname_prefix`), each followed only by spaces and
/// periods up to the end or a `:`.
pub(super) fn is_ntfs_dot_generic(
    name: &[u8],
    dotgit_name: &[u8],
    shortname_prefix: &[u8],
) -> bool {
    let only_spaces_and_periods = |from: usize| {
        for &c in name.get(from..).unwrap_or_default() {
            if c == b':' {
                return true;
            }
            if c != b' ' && c != b'.' {
                return false;
            }
        }
        true
    };
    let len = dotgit_name.len();
    if name.first() == Some(&b'.')
        && name.len() > len
        && name[1..=len].eq_ignore_ascii_case(dotgit_name)
    {
        return only_spaces_and_periods(len + 1);
    }
    if name.len() >= 8
        && name[..6].eq_ignore_ascii_case(&dotgit_name[..6])
        && name[6] == b'~'
        && (b'1'..=b'4').contains(&name[7])
    {
        return only_spaces_and_periods(8);
    }
    let mut saw_tilde = false;
    let mut i = 0;
    while i < 8 {
        let Some(&c) = name.get(i) else {
            return false;
        };
        if saw_tilde {
            if !c.is_ascii_digit() {
                return false;
            }
        } else if c == b'~' {
            i += 1;
            match name.get(i) {
                Some(d) if (b'1'..=b'9').contains(d) => {}
                _ => return false,
            }
            saw_tilde = true;
        } else if i >= 6 || c & 0x80 != 0 || c.to_ascii_lowercase() != shortname_prefix[i] {
            return false;
        }
        i += 1;
    }
    only_spaces_and_periods(8)
}

pub(super) fn is_ntfs_dotgitmodules(name: &[u8]) -> bool {
    is_ntfs_dot_generic(name, b"gitmodules", b"gi7eba")
}

pub(super) fn is_gitmodules(name: &[u8]) -> bool {
    is_hfs_dotgitmodules(name) || is_ntfs_dotgitmodules(name)
}

pub(super) fn is_gitattributes(name: &[u8]) -> bool {
    is_hfs_dot(name, "gitattributes") || is_ntfs_dot_generic(name, b"gitattributes", b"gi7d29")
}

/// git's limits for `.gitattributes` (`gitattributesLarge`, `gitattributesLineLength`).
pub(super) const ATTR_MAX_FILE_SIZE: usize = 100 * 1024 * 1024;
pub(super) const ATTR_MAX_LINE_LENGTH: usize = 2048;
/// `.gitmodules` blobs larger than this are not parsed by git (`gitmodulesLarge`).
pub(super) const GITMODULES_MAX_SIZE: usize = 100 * 1024 * 1024;

pub(super) fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (
                (s[i + 1] as char).to_digit(16),
                (s[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// fsck.c `check_submodule_name`: not empty, no `..` path component.
pub(super) fn bad_submodule_name(name: &[u8]) -> bool {
    name.is_empty() || name.split(|&b| b == b'/' || b == b'\\').any(|c| c == b"..")
}

/// fsck.c `check_submodule_url`, the parts that do not need a URL library: no option-like
/// URL, no newline once URL-decoded (credential-helper injection), and no relative URL that
/// climbs out of its host with `../` followed by `:` or `/`.
pub(super) fn bad_submodule_url(url: &[u8]) -> bool {
    if url.first() == Some(&b'-') || percent_decode(url).contains(&b'\n') {
        return true;
    }
    let mut rest = url;
    let mut dotdots = 0;
    while let Some(r) = rest
        .strip_prefix(b"../")
        .or_else(|| rest.strip_prefix(b"..\\"))
    {
        rest = r;
        dotdots += 1;
    }
    if rest.starts_with(b"./") && dotdots == 0 {
        return false;
    }
    dotdots > 0 && matches!(rest.first(), Some(b':') | Some(b'/'))
}

/// What git's fsck refuses in the contents of a `.gitmodules` blob.
pub(super) fn gitmodules_problem(data: &[u8]) -> Option<String> {
    if data.len() > GITMODULES_MAX_SIZE {
        return Some(".gitmodules is too large to parse (gitmodulesLarge)".to_owned());
    }
    // Unparsable is only informational for git; the submodule checks need a parse.
    let file = gix::config::File::from_bytes_no_includes(
        data,
        gix::config::file::Metadata::api(),
        Default::default(),
    )
    .ok()?;
    for section in file.sections_by_name("submodule").into_iter().flatten() {
        let Some(name) = section.header().subsection_name() else {
            continue;
        };
        if bad_submodule_name(name) {
            return Some(format!(
                "disallowed submodule name `{name}` in .gitmodules (gitmodulesName)"
            ));
        }
        for url in section.body().values("url") {
            if bad_submodule_url(&url) {
                return Some(format!(
                    "disallowed submodule url `{url}` in .gitmodules (gitmodulesUrl)"
                ));
            }
        }
        for path in section.body().values("path") {
            if path.first() == Some(&b'-') {
                return Some(format!(
                    "disallowed submodule path `{path}` in .gitmodules (gitmodulesPath)"
                ));
            }
        }
        for update in section.body().values("update") {
            if update.first() == Some(&b'!') {
                return Some(format!(
                    "disallowed submodule update command `{update}` in .gitmodules (gitmodulesUpdate)"
                ));
            }
        }
    }
    None
}

/// What git's fsck refuses in the contents of a `.gitattributes` blob.
pub(super) fn gitattributes_problem(data: &[u8]) -> Option<String> {
    if data.len() > ATTR_MAX_FILE_SIZE {
        return Some(".gitattributes is too large (gitattributesLarge)".to_owned());
    }
    data.split(|&b| b == b'\n')
        .any(|line| line.len() > ATTR_MAX_LINE_LENGTH)
        .then(|| {
            format!(
                ".gitattributes has a line longer than {ATTR_MAX_LINE_LENGTH} bytes (gitattributesLineLength)"
            )
        })
}
