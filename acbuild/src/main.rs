fn main() -> std::process::ExitCode {
    acbuild::cli::main()
}
