fn main() -> std::process::ExitCode {
    acrun::cli::main()
}
