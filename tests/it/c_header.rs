//! `include/smtpc.h` must be what cbindgen makes from `src/ffi/` now.
//!
//! To regenerate it after changing the C interface:
//!
//! ```sh
//! SMTPC_BLESS=1 cargo test --test it c_header
//! ```

use std::path::Path;

/// The header as cbindgen makes it from `src/ffi/` and `cbindgen.toml`,
/// with the version macros from Cargo.toml.
fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(format!(
        "\n/** The version of this header; compare with smtpc_version(). */\n\
         #define SMTPC_VERSION \"{}\"\n\
         #define SMTPC_VERSION_MAJOR {}\n\
         #define SMTPC_VERSION_MINOR {}\n\
         #define SMTPC_VERSION_PATCH {}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

#[test]
fn committed_header_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/smtpc.h");
    let fresh = generate();
    if std::env::var_os("SMTPC_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/smtpc.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/smtpc.h is out of date (first difference at line {}).\n\
             Regenerate it with: SMTPC_BLESS=1 cargo test --test it c_header",
            line + 1
        );
    }
}

#[test]
fn header_declares_the_contract() {
    let h = generate();
    for needle in [
        "#ifndef SMTPC_H",
        "#define SMTPC_H",
        "extern \"C\"",
        &format!("#define SMTPC_VERSION \"{}\"", env!("CARGO_PKG_VERSION")),
        "typedef struct smtpc_client smtpc_client;",
        "smtpc_client *smtpc_client_new(void);",
        "void smtpc_client_free(smtpc_client *c);",
        "const char *smtpc_result_str(int result);",
        "SMTPC_OK = 0,",
        "SMTPC_PANIC = 12,",
        "Threads: one handle is used by one thread at a time",
    ] {
        assert!(h.contains(needle), "header lacks {needle:?}");
    }
    // Every exported function is declared, with its documentation.
    // (tests.rs and tests_reentry.rs have C callbacks of their own, which
    // are not exported.)
    let src = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("tests")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    let mut count = 0;
    for line in src.lines() {
        let Some(rest) = line.split("extern \"C\" fn ").nth(1) else {
            continue;
        };
        let name = rest.split('(').next().unwrap();
        assert!(
            h.contains(&format!("{name}(")),
            "{name} missing from the header"
        );
        count += 1;
    }
    assert!(count >= 40, "only {count} functions found");
    // Every exported function runs inside the panic boundary.
    for chunk in src.split("#[no_mangle]").skip(1) {
        let name = chunk.split("fn ").nth(1).and_then(|r| r.split('(').next());
        let body = chunk.split("#[cfg(test)]").next().unwrap();
        assert!(
            body.contains("ffi_boundary! {"),
            "{name:?} lacks ffi_boundary!"
        );
    }
    assert_eq!(src.matches("#[no_mangle]").count(), count);
}
