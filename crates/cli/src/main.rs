//! The `rectify` binary: [`rectify::main`] on the process's arguments.

fn main() {
    std::process::exit(rectify::main(std::env::args().skip(1)));
}
