//! Generates the Tauri context; capabilities live in the top-level `capabilities/` folder.

fn main() {
    // tauri-build only watches its default folder: without this line an edited capability
    // file is silently not rebuilt.
    println!("cargo:rerun-if-changed=../capabilities");
    if let Err(error) = tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("../capabilities/**/*"),
    ) {
        println!("cargo:warning=tauri build script failed: {error:#}");
        std::process::exit(1);
    }
}
