//! Rebuilds the server when the web UI changes: rust-embed embeds the files
//! of `web/ui` at compile time, and cargo does not know to look at a file
//! added there otherwise.

fn main() {
    println!("cargo:rerun-if-changed=../../web/ui");
}
