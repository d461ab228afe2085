/*
 * After a session that authenticated with a password, and after
 * smtpc_client_free, nothing of the password may be left in the
 * process's memory: this program looks through its own heap and every
 * other anonymous writable mapping (freed memory included, which glibc
 * keeps) for the password and its base64 forms.
 *
 *     heap_scan PORT MECHANISM[/callback] USER PASSWORD
 *
 * With "/callback" the password comes from a credentials callback
 * instead of smtpc_set_credentials.
 * connects to 127.0.0.1:PORT without TLS (a scripted server), sends one
 * message, quits, frees the handle, then scans. The needles and the
 * password the program was given live on the main thread's stack, which
 * is not scanned. A marker written into a buffer that is then freed
 * must be found (the scan sees freed memory), else the scan proves
 * nothing. The password should be long (40 bytes or more): the first 16
 * bytes of a freed copy are overwritten by the allocator, so needles are
 * matched from their 17th byte. Prints "found NAME in MAPPING" per finding, "clean" when none;
 * exits 1 on a finding, 2 when the marker was not found.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of `len` bytes at `in` into `out` (NUL-terminated), padding
 * left off: a copy without padding is still a copy. */
static void base64(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = B64[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = B64[v & 63];
    }
    out[o] = '\0';
}

/* The credentials callback: the password, from the main stack. */
static ptrdiff_t give(char *buf, size_t size, bool renew, void *user_data)
{
    const char *password = user_data;
    size_t len = strlen(password);
    (void)renew;
    if (len > size)
        return -1;
    memcpy(buf, password, len);
    return (ptrdiff_t)len;
}

struct needle {
    const char *name;
    const char *bytes;
    size_t len;
};

/* Looks for each needle in every readable and writable mapping that is
 * anonymous or the heap, the main stack aside. Returns the findings. */
static int scan(struct needle *needles, int count, int *marker_found)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        perror("/proc/self/maps");
        exit(3);
    }
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        char path[256] = "";
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %255[^\n]", &start, &end,
                   perms, path) < 3)
            continue;
        if (perms[0] != 'r' || perms[1] != 'w')
            continue;
        if (path[0] != '\0' && strcmp(path, "[heap]") != 0)
            continue; /* files, [stack], [vvar], [vdso] */
        const char *base = (const char *)start;
        size_t size = end - start;
        for (int i = 0; i < count; i++) {
            /* free() writes its own pointers over the first 16 bytes of
             * a chunk, so a copy freed as it was starts past them: the
             * needle is looked for from its 17th byte (the tests use a
             * long password, so what is left is still unmistakable) */
            size_t skip = needles[i].len > 32 ? 16 : 0;
            if (memmem(base, size, needles[i].bytes + skip,
                       needles[i].len - skip) == NULL)
                continue;
            if (i == count - 1) {
                *marker_found = 1;
                continue;
            }
            printf("found %s in %s\n", needles[i].name,
                   path[0] ? path : "an anonymous mapping");
            found++;
        }
    }
    fclose(maps);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: heap_scan PORT MECHANISM USER PASSWORD\n");
        return 64;
    }
    const char *user = argv[3];
    char password[128];
    char plain[300];
    char b64_password[200];
    char b64_plain[420];
    char xoauth2[300];
    char b64_xoauth2[420];
    char marker[128];
    size_t ulen = strlen(user), plen = strlen(argv[4]);
    if (ulen > 100 || plen > 100) {
        fprintf(stderr, "user and password: at most 100 bytes\n");
        return 64;
    }
    memcpy(password, argv[4], plen + 1);
    /* "\0user\0password": PLAIN's response */
    plain[0] = '\0';
    memcpy(plain + 1, user, ulen);
    plain[1 + ulen] = '\0';
    memcpy(plain + 2 + ulen, password, plen);
    base64((const unsigned char *)password, plen, b64_password);
    base64((const unsigned char *)plain, plen + ulen + 2, b64_plain);
    int xlen = snprintf(xoauth2, sizeof xoauth2, "user=%s\001auth=Bearer %s\001\001",
                        user, password);
    base64((const unsigned char *)xoauth2, (size_t)xlen, b64_xoauth2);
    /* the marker: the password reversed, which smtpc never sees */
    for (size_t i = 0; i < plen && i < sizeof marker - 1; i++)
        marker[i] = password[plen - 1 - i];
    marker[plen < sizeof marker - 1 ? plen : sizeof marker - 1] = '\0';

    char mechanism[64];
    snprintf(mechanism, sizeof mechanism, "%s", argv[2]);
    char *slash = strchr(mechanism, '/');
    int callback = slash != NULL && strcmp(slash, "/callback") == 0;
    if (slash != NULL)
        *slash = '\0';

    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_server(c, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, SMTPC_TLS_NONE);
    if (r == SMTPC_OK)
        r = smtpc_set_allow_insecure_auth(c, true);
    if (r == SMTPC_OK)
        r = smtpc_set_auth_mechanisms(c, mechanism);
    if (r == SMTPC_OK)
        r = callback ? smtpc_set_credentials_callback(c, user, give, password)
                     : smtpc_set_credentials(c, user, password);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r == SMTPC_OK) {
        const char *to[] = {"b@y.test"};
        const char msg[] = "Subject: scan\r\n\r\nhello\r\n";
        r = smtpc_send(c, "a@x.test", to, 1, msg, sizeof msg - 1);
    }
    if (r == SMTPC_OK)
        r = smtpc_quit(c);
    if (r != SMTPC_OK) {
        printf("failed %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));
        smtpc_client_free(c);
        return 4;
    }
    smtpc_client_free(c);

    /* the control: a marker left in freed memory, past glibc's own
     * pointers at the start of a freed chunk */
    char *control = malloc(256);
    memset(control, 'x', 256);
    memcpy(control + 100, marker, strlen(marker));
    free(control);

    struct needle needles[] = {
        {"the password", password, plen},
        {"base64 of the password", b64_password, strlen(b64_password)},
        {"PLAIN's response", plain, plen + ulen + 2},
        {"base64 of PLAIN's response", b64_plain, strlen(b64_plain)},
        {"XOAUTH2's response", xoauth2, (size_t)xlen},
        {"base64 of XOAUTH2's response", b64_xoauth2, strlen(b64_xoauth2)},
        {"the marker", marker, strlen(marker)},
    };
    int count = (int)(sizeof needles / sizeof needles[0]);
    int marker_found = 0;
    int found = scan(needles, count, &marker_found);
    if (!marker_found) {
        printf("the marker in freed memory was not found: the scan sees nothing\n");
        return 2;
    }
    if (found)
        return 1;
    printf("clean\n");
    return 0;
}
