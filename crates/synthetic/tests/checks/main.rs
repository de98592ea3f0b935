//! Synthetic monitoring against real targets on 127.0.0.1: every check type
//! (runners), and the scheduler, checkpoint and confirmation rules over a
//! real database (scheduling).

mod browsers;
mod runners;
mod scheduling;
mod targets;
mod transactions;
