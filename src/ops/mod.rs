//! Operations: one module per verb. Each takes the workspace and options and returns a typed
//! report; none of them prints (the binary's `cli` renders).

pub mod ask;
pub mod check;
pub mod doctor;
pub mod feedback;
pub mod guard;
pub mod hooks;
pub mod land_loop;
pub mod lock;
pub mod merge;
pub mod plan;
pub mod pool;
pub mod ready;
pub mod remove;
pub mod run;
pub mod spawn;
pub mod status;
pub mod sync;
