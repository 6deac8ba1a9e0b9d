//! The extension module finds libtorch in the torch package installed beside it
//! (`site-packages/rectify/_rectify.abi3.so` → `site-packages/torch/lib`), never at the path it
//! was built against: one libtorch in the process, the one `import torch` loads. `--no-as-needed
//! -ltorch` keeps libtorch (and with it libtorch_cuda) linked although no symbol of it is used
//! directly (see build/libtorch-rpath.rs).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../assets/sample-images");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../torch/lib");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    } else if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,@loader_path/../torch/lib");
    }
    // The bundled sample (50 ImageNet validation images, their labels, ReaL labels and raters'
    // votes), embedded so that `rectify.samples()` works from an installed wheel.
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let mut files: Vec<String> = std::fs::read_dir(assets.join("sample-images"))
        .expect("assets/sample-images")
        .map(|e| format!("sample-images/{}", e.expect("entry").file_name().to_string_lossy()))
        .collect();
    files.sort();
    files.extend(
        ["sample-labels.csv", "sample-real.json", "sample-real-raters.npz", "sample-real-raters.LICENSE"]
            .map(String::from),
    );
    let mut code = String::from("/// The bundled sample's files: path under the sample folder, bytes.\npub const SAMPLE: &[(&str, &[u8])] = &[\n");
    for f in &files {
        let path = assets.join(f).canonicalize().expect("sample file");
        code.push_str(&format!("    ({f:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("sample.rs");
    std::fs::write(out, code).expect("write sample.rs");
}
