//! LMTP from C (tests/c/lmtp.c): `smtpc_set_unix_socket` and
//! `smtpc_set_protocol` against a private Dovecot over its UNIX socket,
//! each recipient with its own reply; also under valgrind.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::c_api::{command, compile, exited, have, root, run, Link};
use crate::support::real::Dovecot;

fn exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("lmtp", &root().join("tests/c/lmtp.c"), Link::Dynamic))
}

#[test]
fn c_lmtp_to_dovecot_over_its_unix_socket() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let valgrind = have("valgrind");
    for (n, under_valgrind) in [false, valgrind].into_iter().enumerate() {
        if n == 1 && !under_valgrind {
            break;
        }
        let mut cmd = command(exe(), under_valgrind);
        cmd.arg(&dovecot.socket).args([
            "alice@lmtp.test",
            "nosuch@lmtp.test",
            "full@lmtp.test",
            "bob@lmtp.test",
        ]);
        let (stdout, _) = exited(&run(cmd), 0);
        assert_eq!(
            stdout,
            "result: some recipients rejected\n\
             stored: alice@lmtp.test 250\n\
             stored: bob@lmtp.test 250\n\
             refused: nosuch@lmtp.test 550\n\
             refused: full@lmtp.test 552\n",
            "valgrind: {under_valgrind}"
        );
        for user in ["alice", "bob"] {
            let stored = dovecot.mailbox(user, n + 1);
            assert_eq!(stored.len(), n + 1, "{user}");
            let text = String::from_utf8_lossy(&stored[n]).into_owned();
            assert!(text.contains("Subject: from C over LMTP"), "{text}");
        }
    }
}
