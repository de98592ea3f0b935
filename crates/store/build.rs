//! Rebuilds the store when a migration changes: `sqlx::migrate!` embeds the
//! migration files, and cargo does not know to look at them otherwise.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
