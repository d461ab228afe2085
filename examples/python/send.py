#!/usr/bin/env python3
"""Sends a file as one mail message through libsmtpc, from Python's ctypes.

    python3 send.py SERVER PORT FROM TO[,TO...] FILE

The same program as examples/c/send.c, with no compilation step. The
library is found through SMTPC_LIBRARY (a path to libsmtpc.so), else the
system's library path. Like send.c it reads SMTPC_TLS (none, starttls,
opportunistic, implicit), SMTPC_CA_FILE, SMTPC_USER and SMTPC_PASSWORD;
set SMTPC_VERBOSE=1 to see the exchange on stderr.

Exit status: 0 sent to every recipient; 3 sent, but some recipients were
refused; 1 not sent; 2 bad arguments or file.
"""

import ctypes
import ctypes.util
import os
import sys

# smtpc_result values (include/smtpc.h).
SMTPC_OK = 0
SMTPC_PARTIAL = 1
# smtpc_direction values.
SMTPC_SENT = 0
SMTPC_RECEIVED = 1
# smtpc_tls values, by the names SMTPC_TLS takes.
TLS_MODES = {"none": 0, "starttls": 1, "opportunistic": 2, "implicit": 3}

READ_FN = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
TRANSCRIPT_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


def load():
    """Loads libsmtpc and declares the signatures used here."""
    path = os.environ.get("SMTPC_LIBRARY") or ctypes.util.find_library("smtpc") or "libsmtpc.so"
    lib = ctypes.CDLL(path)
    handle, result, text = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    for name, restype, argtypes in [
        ("smtpc_version", text, []),
        ("smtpc_result_str", text, [ctypes.c_int]),
        ("smtpc_client_new", handle, []),
        ("smtpc_client_free", None, [handle]),
        ("smtpc_set_server", result, [handle, text, ctypes.c_uint16]),
        ("smtpc_set_tls", result, [handle, ctypes.c_int]),
        ("smtpc_set_ca_file", result, [handle, text]),
        ("smtpc_set_credentials", result, [handle, text, text]),
        ("smtpc_set_timeout_ms", result, [handle, ctypes.c_uint32]),
        ("smtpc_set_transcript", result, [handle, TRANSCRIPT_FN, ctypes.c_void_p]),
        ("smtpc_connect", result, [handle]),
        ("smtpc_send_stream", result,
         [handle, text, ctypes.POINTER(text), ctypes.c_size_t, READ_FN, ctypes.c_void_p]),
        ("smtpc_quit", result, [handle]),
        ("smtpc_is_connected", ctypes.c_bool, [handle]),
        ("smtpc_is_encrypted", ctypes.c_bool, [handle]),
        ("smtpc_reply_code", ctypes.c_int, [handle]),
        ("smtpc_reply_text", text, [handle]),
        ("smtpc_error_message", text, [handle]),
        ("smtpc_queue_id", text, [handle]),
        ("smtpc_rejected_count", ctypes.c_size_t, [handle]),
        ("smtpc_rejected_address", text, [handle, ctypes.c_size_t]),
        ("smtpc_rejected_code", ctypes.c_int, [handle, ctypes.c_size_t]),
        ("smtpc_rejected_text", text, [handle, ctypes.c_size_t]),
    ]:
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def c_string(value):
    """UTF-8 bytes for a C string; a NUL inside would silently cut it short."""
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{value!r} contains a NUL character")
    return data


def main(argv):
    if len(argv) != 6:
        print(f"usage: {argv[0]} SERVER PORT FROM TO[,TO...] FILE", file=sys.stderr)
        return 2
    server, port, sender, recipients, path = argv[1:]
    try:
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError(port)
        to = [c_string(r) for r in recipients.split(",") if r]
        server, sender = c_string(server), c_string(sender)
        tls = TLS_MODES[os.environ.get("SMTPC_TLS", "starttls")]
        ca_file = os.environ.get("SMTPC_CA_FILE")
        user = os.environ.get("SMTPC_USER")
        password = os.environ.get("SMTPC_PASSWORD", "")
        message = open(path, "rb")
    except KeyError:
        print("send.py: SMTPC_TLS must be none, starttls, opportunistic or implicit",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"send.py: {e}", file=sys.stderr)
        return 2

    lib = load()

    # The callbacks must stay referenced while the library may call them.
    @READ_FN
    def read(buf, length, _user_data):
        try:
            chunk = message.read(length)
        except OSError:
            return -1
        ctypes.memmove(buf, chunk, len(chunk))
        return len(chunk)

    @TRANSCRIPT_FN
    def show(direction, line, _user_data):
        who = {SMTPC_SENT: "C", SMTPC_RECEIVED: "S"}.get(direction, "*")
        print(f"{who}: {line.decode('utf-8', 'replace')}", file=sys.stderr)

    c = lib.smtpc_client_new()
    if not c:
        print("send.py: out of memory", file=sys.stderr)
        return 1
    try:
        r = lib.smtpc_set_server(c, server, port)
        if r == SMTPC_OK:
            r = lib.smtpc_set_tls(c, tls)
        if r == SMTPC_OK and ca_file:
            r = lib.smtpc_set_ca_file(c, c_string(ca_file))
        if r == SMTPC_OK and user:
            r = lib.smtpc_set_credentials(c, c_string(user), c_string(password))
        if r == SMTPC_OK:
            r = lib.smtpc_set_timeout_ms(c, 60000)
        if r == SMTPC_OK and os.environ.get("SMTPC_VERBOSE"):
            r = lib.smtpc_set_transcript(c, show, None)
        if r == SMTPC_OK:
            r = lib.smtpc_connect(c)
        if r == SMTPC_OK:
            to_array = (ctypes.c_char_p * len(to))(*to)
            r = lib.smtpc_send_stream(c, sender, to_array, len(to), read, None)

        status = 1
        if r in (SMTPC_OK, SMTPC_PARTIAL):
            queue_id = lib.smtpc_queue_id(c)
            suffix = f"; queue id {queue_id.decode()}" if queue_id else ""
            tls_note = " over TLS" if lib.smtpc_is_encrypted(c) else ""
            print(f"sent{tls_note}: {lib.smtpc_reply_code(c)} "
                  f"{lib.smtpc_reply_text(c).decode()}{suffix}")
            status = 0 if r == SMTPC_OK else 3
        else:
            print(f"send.py: {lib.smtpc_result_str(r).decode()}: "
                  f"{lib.smtpc_error_message(c).decode()} (reply {lib.smtpc_reply_code(c)})",
                  file=sys.stderr)
        for i in range(lib.smtpc_rejected_count(c)):
            print(f"refused: {lib.smtpc_rejected_address(c, i).decode()}: "
                  f"{lib.smtpc_rejected_code(c, i)} {lib.smtpc_rejected_text(c, i).decode()}",
                  file=sys.stderr)
        if lib.smtpc_is_connected(c):
            lib.smtpc_quit(c)
        return status
    finally:
        lib.smtpc_client_free(c)
        message.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
