//! The reply parser on arbitrary bytes: never a panic, replies within the
//! bounds, and incremental parsing agrees with parsing the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpc::codec::ReplyParser;
use smtpc::Reply;

fuzz_target!(|data: &[u8]| {
    let mut parser = ReplyParser::new();
    let mut replies = Vec::new();
    let mut failed = false;
    for line in data.split_inclusive(|&b| b == b'\n') {
        match parser.push_line(line) {
            Ok(Some(reply)) => replies.push(reply),
            Ok(None) => {}
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    for r in &replies {
        assert!((200..=559).contains(&r.code), "code {}", r.code);
        assert!(!r.lines.is_empty() && r.lines.len() <= smtpc::codec::MAX_LINES);
        if let Some(e) = r.enhanced {
            assert_eq!(u16::from(e.class), r.code / 100);
        }
        let shown = r.to_string();
        assert!(
            !shown.chars().any(char::is_control),
            "control char in {shown:?}"
        );
    }
    // One reply that is the whole input parses the same either way.
    if !failed && replies.len() == 1 && parser.is_idle() && data.ends_with(b"\n") {
        assert_eq!(Reply::parse(data).ok().as_ref(), replies.first());
    }
});
