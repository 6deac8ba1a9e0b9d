//! Shared build script of the crates that link libtorch. Bakes libtorch's directory into the binary (rpath), so `target/release/rectify` runs without
//! `LD_LIBRARY_PATH`. `--no-as-needed -ltorch` keeps libtorch (and with it libtorch_cuda) linked
//! although no symbol of it is used directly; without it CUDA silently reports unavailable.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        if os == "linux" {
            println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch");
        } else if os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        }
    }
}
