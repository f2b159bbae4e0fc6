//! Sets the `nokkel_mobile_check` cfg from `NOKKEL_MOBILE_CHECK` (`android` or `ios`), so the
//! phone modules are type-checked on the Linux host (scripts/mobile-check.sh). A build
//! script rather than RUSTFLAGS: only this crate and nokkel-app see the cfg, so the
//! dependencies' build artefacts stay shared with the normal builds.

fn main() {
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
