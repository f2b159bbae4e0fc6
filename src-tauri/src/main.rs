//! The desktop entry point; all of the app lives in the library (mobile builds load it too).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    nokkel_app_lib::run();
}
