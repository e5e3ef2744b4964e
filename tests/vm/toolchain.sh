# Sourced by the build scripts: the one place that says which tools build kernel code.
# Kernel and module builds use Debian's rustc-web (not rustup's rustc on PATH) for both
# target and host (proc-macro) code, clang/lld 19, and bindgen from cargo install.
export PATH="$HOME/.cargo/bin:$PATH"
KEMU_KMAKE_ARGS=(
    LLVM=-19
    RUSTC=/usr/bin/rustc
    HOSTRUSTC=/usr/bin/rustc
    RUSTDOC=/usr/bin/rustdoc
    RUST_LIB_SRC=/usr/src/rustc-1.96.0/library
    BINDGEN=bindgen
)
kemu_toolchain_versions() {
    /usr/bin/rustc --version
    clang-19 --version | head -n 1
    ld.lld-19 --version
    bindgen --version
}
