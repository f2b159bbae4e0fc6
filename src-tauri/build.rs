//! Generates the Tauri context (capabilities live in the top-level `capabilities/`
//! folder) and sets the mobile-check cfg.

fn main() {
    // tauri-build only watches its default folder: without this line an edited capability
    // file is silently not rebuilt.
    println!("cargo:rerun-if-changed=../capabilities");
    mobile_check_cfg();
    if let Err(error) = tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("../capabilities/**/*"),
    ) {
        println!("cargo:warning=tauri build script failed: {error:#}");
        std::process::exit(1);
    }
}

/// `NOKKEL_MOBILE_CHECK=android|ios` sets `nokkel_mobile_check`, which compiles the phone
/// modules on the Linux host (scripts/mobile-check.sh). Same rule as nokkel-client's.
fn mobile_check_cfg() {
    println!("cargo:rerun-if-env-changed=NOKKEL_MOBILE_CHECK");
    println!("cargo:rustc-check-cfg=cfg(nokkel_mobile_check, values(\"android\", \"ios\"))");
    match std::env::var("NOKKEL_MOBILE_CHECK").as_deref() {
        Ok(variant @ ("android" | "ios")) => {
            println!("cargo:rustc-cfg=nokkel_mobile_check=\"{variant}\"");
        }
        Ok("") | Err(_) => {}
        Ok(other) => {
            println!("cargo:warning=NOKKEL_MOBILE_CHECK={other:?} is neither android nor ios");
            std::process::exit(1);
        }
    }
}
