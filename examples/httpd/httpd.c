/*
 * curio-httpd: a small HTTP/1.1 server on curio (see docs/httpd.md).
 *
 * One task per connection. Each task reads into its connection's buffer, feeds every byte
 * to http_parser (which calls back for the URL, the headers and the end of each request),
 * and answers the requests in the order they came: a request's response is appended to the
 * connection's output buffer, and the buffer is sent when the input read so far has been
 * answered (so a pipelined batch costs one write), before a file's body goes out with
 * curio_sendfile, or when it fills. A watchdog task enforces the read timeouts (see
 * watchdog); the acceptor takes queued connections in bursts (see accept_queued). The main
 * task waits for SIGTERM or SIGINT and then winds the server down (see shutdown_server).
 */
#include <curio.h>
#include <curio/io.h>
#include <curio/net.h>
#include <curio/proc.h>
#include <curio/sync.h>

#include <http_parser.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Limits of a request's head. */
#define URL_MAX 4096      /* request target: longer is 414 */
#define HEAD_MAX 8192     /* header lines together: more is 431 */
#define IN_CAP 8192       /* bytes read at once */
#define OUT_CAP 16384     /* response buffer */
#define OUT_ROOM 1024     /* every response head fits in this */
#define SENDFILE_CHUNK (1u << 20) /* each chunk must go within the write timeout */
#define SMALL_FILE 8192   /* bodies up to this are read into the response buffer */
#define ACCEPT_BURST 64   /* connections taken before the others run again */

struct config {
    const char *host;
    int port;
    const char *root;
    const char *port_file;
    unsigned max_conns;
    double header_timeout;
    double idle_timeout;
    double write_timeout;
    double shutdown_timeout;
};

struct conn;

struct server {
    struct config cfg;
    curio_file *root;
    curio_socket *ls;
    curio_semaphore slots;   /* free connection slots (--max-conns) */
    struct conn *conns;      /* live connections, a doubly linked list */
    unsigned nconns;
    bool draining;           /* shutting down: answer what is in flight, then close */
    curio_event drained;     /* set when draining and the last connection ended */
    int64_t tick;            /* the watchdog's period, ns */
    int64_t header_ns, idle_ns; /* the read timeouts, ns */
};

enum hdr { HDR_NONE, HDR_IMS, HDR_RANGE };

struct conn {
    struct conn *prev, *next;
    struct server *srv;
    curio_socket *sock;
    curio_task *task;
    http_parser parser;
    bool began;              /* a request's first byte was parsed, its end not yet */
    bool idle_wait;          /* blocked reading, between requests */
    bool reading;            /* blocked reading (the watchdog's deadlines apply) */
    bool expired;            /* the watchdog shut its reading down: a read timeout */
    bool dead;               /* the socket was aborted or failed: stop */
    bool close;              /* the response just built ends the connection */
    int err;                 /* status a callback stopped the parser with (414, 431) */
    int64_t last_read;       /* curio_clock() when the last read completed */
    int64_t req_start;       /* curio_clock() when the read that began this request did */
    int64_t read_since;      /* curio_clock() when the current read's timeout began */
    size_t head_bytes;
    size_t url_len;
    enum hdr cur;
    bool in_value;
    size_t field_len;
    size_t ims_len, range_len;
    char field[32];
    char ims[64];
    char range[64];
    char url[URL_MAX + 1];
    size_t out_len;
    char out[OUT_CAP];
    char in[IN_CAP];
};

/* ---- the Date header, formatted once a second ---- */

static time_t date_sec = -1;
static char date_str[40];

/* The whole answer to a keep-alive HTTP/1.1 GET /plaintext, rebuilt with the Date. */
static const char plaintext_body[] = "Hello, World!";
#define PLAIN_HEAD1 "HTTP/1.1 200 OK\r\nServer: curio\r\nDate: "
#define PLAIN_HEAD2 "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
static char plain_resp[sizeof PLAIN_HEAD1 + 29 + sizeof PLAIN_HEAD2 + sizeof plaintext_body];
static size_t plain_len;

/* Read the wall clock (once per read from a client, not per request) and format the Date
 * string and the /plaintext answer again when the second has changed. */
static void date_refresh(void)
{
    time_t now = time(NULL);
    if (now == date_sec)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date_str, sizeof date_str, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_sec = now;
    size_t n = 0;
    memcpy(plain_resp + n, PLAIN_HEAD1, sizeof PLAIN_HEAD1 - 1);
    n += sizeof PLAIN_HEAD1 - 1;
    memcpy(plain_resp + n, date_str, 29);
    n += 29;
    memcpy(plain_resp + n, PLAIN_HEAD2, sizeof PLAIN_HEAD2 - 1);
    n += sizeof PLAIN_HEAD2 - 1;
    memcpy(plain_resp + n, plaintext_body, sizeof plaintext_body - 1);
    plain_len = n + sizeof plaintext_body - 1;
}

static const char *http_date(void)
{
    date_refresh();
    return date_str;
}

/* ---- output ---- */

static void out_str(struct conn *c, const char *s, size_t n)
{
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}
#define OUT_LIT(c, s) out_str((c), (s), sizeof(s) - 1)

static void out_fmt(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out + c->out_len, OUT_CAP - c->out_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->out_len += (size_t)n < OUT_CAP - c->out_len ? (size_t)n : OUT_CAP - c->out_len - 1;
}

/* Drop a client that does not take its bytes in time, or whose connection failed. */
static void conn_drop(struct conn *c)
{
    if (!c->dead) {
        curio_socket_abort(c->sock);
        c->dead = true;
    }
}

/* Send the output buffer under the write timeout; flags MSG_MORE when a file's body
 * follows at once, so that a small file's head and body leave in one segment. */
static bool flush_out_flags(struct conn *c, int flags)
{
    if (c->dead)
        return false;
    if (c->out_len == 0)
        return true;
    /* Usually the socket's buffer has room: a send that does not wait needs no deadline
     * (no timeout scope, no clock read). What it could not send goes under the write
     * timeout. */
    ssize_t r = curio_send(c->sock, c->out, c->out_len, flags | MSG_DONTWAIT);
    size_t sent = r > 0 ? (size_t)r : 0;
    if (sent < c->out_len && (r >= 0 || r == -EAGAIN)) {
        curio_scope sc;
        curio_timeout_after(&sc, c->srv->cfg.write_timeout);
        r = curio_sendall(c->sock, c->out + sent, c->out_len - sent, flags, NULL);
        curio_scope_close(&sc);
    }
    c->out_len = 0;
    if (r < 0) {
        conn_drop(c);
        return false;
    }
    return true;
}

static bool flush_out(struct conn *c)
{
    return flush_out_flags(c, 0);
}

static bool make_room(struct conn *c)
{
    if (OUT_CAP - c->out_len < OUT_ROOM)
        return flush_out(c);
    return !c->dead;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Error";
    }
}

/* Status line, Server and Date. */
static void out_start(struct conn *c, int status)
{
    out_fmt(c, "HTTP/1.1 %d %s\r\nServer: curio\r\nDate: %s\r\n", status, reason(status),
            http_date());
}

/* The Connection header a response needs (HTTP/1.1 keeps alive by default, 1.0 not). */
static void out_connection(struct conn *c, bool keep)
{
    bool v11 = c->parser.http_major == 1 && c->parser.http_minor >= 1;
    if (!keep)
        OUT_LIT(c, "Connection: close\r\n");
    else if (!v11)
        OUT_LIT(c, "Connection: keep-alive\r\n");
}

/* An error response with a short text body. */
static void out_error(struct conn *c, int status, bool keep, bool head)
{
    if (!make_room(c))
        return;
    const char *text = reason(status);
    out_start(c, status);
    if (status == 405)
        OUT_LIT(c, "Allow: GET, HEAD\r\n");
    out_fmt(c, "Content-Type: text/plain\r\nContent-Length: %zu\r\n", strlen(text) + 1);
    out_connection(c, keep);
    OUT_LIT(c, "\r\n");
    if (!head) {
        out_str(c, text, strlen(text));
        OUT_LIT(c, "\n");
    }
}

/* ---- static files ---- */

static const struct { const char *ext, *type; } mime_types[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"}, {"css", "text/css"},
    {"js", "text/javascript"}, {"json", "application/json"}, {"xml", "application/xml"},
    {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
    {"gif", "image/gif"}, {"svg", "image/svg+xml"}, {"ico", "image/x-icon"},
    {"webp", "image/webp"}, {"pdf", "application/pdf"}, {"wasm", "application/wasm"},
    {"gz", "application/gzip"}, {"zip", "application/zip"},
};

static const char *content_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* The URL's path, percent-decoded, without its leading slashes ("." for the root). An
 * absolute-form target ("http://host/path") gives its path. Returns false for a target
 * that is neither (e.g. "*") or that decodes to a NUL, or a path too long for cap. */
static bool decode_path(const char *url, char *out, size_t cap)
{
    if (strncasecmp(url, "http://", 7) == 0) {
        /* absolute-form (RFC 9112 3.2.2): the path after the authority */
        const char *slash = strchr(url + 7, '/');
        url = slash ? slash : "/";
    }
    if (url[0] != '/')
        return false;
    while (*url == '/')
        url++;
    size_t n = 0;
    for (; *url && *url != '?' && *url != '#'; url++) {
        char ch = *url;
        if (ch == '%') {
            int hi = hexval(url[1]), lo = hi < 0 ? -1 : hexval(url[2]);
            if (lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            url += 2;
            if (ch == '\0')
                return false;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return true;
}

static bool parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    *out = timegm(&tm);
    return true;
}

static bool parse_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t x = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    *p = s;
    return true;
}

enum range_result { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

/* A single "bytes=" range against a file of size bytes. Anything else (several ranges,
 * other units, bad syntax) is ignored: the whole file is served, as RFC 9110 allows. */
static enum range_result parse_range(const char *s, uint64_t size, uint64_t *first,
                                     uint64_t *last)
{
    if (strncasecmp(s, "bytes=", 6) != 0 || strchr(s, ','))
        return RANGE_NONE;
    s += 6;
    while (*s == ' ')
        s++;
    uint64_t a, b;
    if (*s == '-') {
        s++;
        if (!parse_u64(&s, &b) || *s)
            return RANGE_NONE;
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_OK;
    }
    if (!parse_u64(&s, &a) || *s++ != '-')
        return RANGE_NONE;
    if (*s == '\0') {
        b = UINT64_MAX;
    } else if (!parse_u64(&s, &b) || *s || b < a) {
        return RANGE_NONE;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return RANGE_OK;
}

/* Open path under the root: no step may leave it (BENEATH: "..", absolute paths and links
 * that lead out are -EXDEV) and no symbolic link is followed at all (NO_SYMLINKS, -ELOOP). */
#define RESOLVE (CURIO_RESOLVE_BENEATH | CURIO_RESOLVE_NO_SYMLINKS)

static int open_status(int rc)
{
    switch (-rc) {
    case ENOENT: case ENOTDIR: case ENAMETOOLONG: return 404;
    case EXDEV: case ELOOP: case EACCES: case EPERM: return 403;
    default: return 500;
    }
}

static void serve_file(struct conn *c, bool head, bool keep)
{
    char path[URL_MAX + 1];
    if (!decode_path(c->url, path, sizeof path)) {
        out_error(c, 400, false, head);
        c->close = true;
        return;
    }
    curio_file *f;
    int rc = curio_file_openat(&f, c->srv->root, path, O_RDONLY | O_NONBLOCK, 0, RESOLVE);
    if (rc < 0) {
        out_error(c, open_status(rc), keep, head);
        return;
    }
    struct stat st;
    rc = curio_file_stat(f, &st);
    const char *type_path = path;
    if (rc == 0 && S_ISDIR(st.st_mode)) {
        /* A directory serves its index.html, else 403 (there are no listings). */
        curio_file *idx;
        rc = curio_file_openat(&idx, f, "index.html", O_RDONLY | O_NONBLOCK, 0, RESOLVE);
        curio_file_close(f);
        if (rc < 0) {
            out_error(c, rc == -ENOENT ? 403 : open_status(rc), keep, head);
            return;
        }
        f = idx;
        type_path = "index.html";
        rc = curio_file_stat(f, &st);
    }
    if (rc < 0 || !S_ISREG(st.st_mode)) {
        curio_file_close(f);
        out_error(c, rc < 0 ? 500 : 403, keep, head);
        return;
    }

    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    int status = 200;
    time_t ims;
    if (c->ims_len >= sizeof c->ims)
        c->ims_len = 0; /* too long to be a date: ignored */
    if (c->range_len >= sizeof c->range)
        c->range_len = 0;
    c->ims[c->ims_len] = '\0';
    c->range[c->range_len] = '\0';
    if (c->ims_len && parse_http_date(c->ims, &ims) && st.st_mtime <= ims) {
        status = 304;
    } else if (c->range_len) {
        switch (parse_range(c->range, size, &first, &last)) {
        case RANGE_OK: status = 206; break;
        case RANGE_UNSATISFIABLE: status = 416; break;
        case RANGE_NONE: break;
        }
    }

    char lm[40];
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    uint64_t len = size ? last - first + 1 : 0;
    /* A small body is read into the response buffer and leaves with the head (and the
     * other responses of the batch) in one send: curio_sendfile's splice runs on io_uring's
     * worker threads, which for a few KiB costs more than the copy it saves. */
    bool small = status != 304 && status != 416 && !head && len <= SMALL_FILE;
    if (small && OUT_CAP - c->out_len < OUT_ROOM + len && !flush_out(c)) {
        curio_file_close(f);
        return;
    }
    if (!make_room(c)) {
        curio_file_close(f);
        return;
    }
    if (status == 416) {
        const char *text = reason(416);
        out_start(c, 416);
        out_fmt(c, "Content-Range: bytes */%" PRIu64 "\r\nContent-Type: text/plain\r\n"
                "Content-Length: %zu\r\n", size, strlen(text) + 1);
        out_connection(c, keep);
        OUT_LIT(c, "\r\n");
        if (!head) {
            out_str(c, text, strlen(text));
            OUT_LIT(c, "\n");
        }
        curio_file_close(f);
        return;
    }
    out_start(c, status);
    out_fmt(c, "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n", lm);
    if (status == 304) {
        out_connection(c, keep);
        OUT_LIT(c, "\r\n");
        curio_file_close(f);
        return;
    }
    out_fmt(c, "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n", content_type(type_path),
            len);
    if (status == 206)
        out_fmt(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", first, last,
                size);
    out_connection(c, keep);
    OUT_LIT(c, "\r\n");
    if (head || len == 0) {
        curio_file_close(f);
        return;
    }
    if (small) {
        size_t got = 0;
        while (got < len) {
            ssize_t r = curio_file_pread(f, c->out + c->out_len + got, (size_t)len - got,
                                         (int64_t)(first + got));
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        curio_file_close(f);
        if (got < len) {
            /* the file shrank or failed: the promised length cannot be sent */
            c->out_len = 0;
            conn_drop(c);
            return;
        }
        c->out_len += got;
        return;
    }
    if (!flush_out_flags(c, MSG_MORE)) {
        curio_file_close(f);
        return;
    }
    /* The body: each chunk must be taken within the write timeout, so a client that stops
     * reading is dropped while one that reads slowly but steadily is served. */
    uint64_t off = first;
    while (len > 0) {
        size_t n = len > SENDFILE_CHUNK ? SENDFILE_CHUNK : (size_t)len;
        curio_scope sc;
        curio_timeout_after(&sc, c->srv->cfg.write_timeout);
        ssize_t r = curio_sendfile(c->sock, f, (int64_t)off, n, NULL);
        curio_scope_close(&sc);
        if (r <= 0) {
            /* Failed, timed out, or the file shrank: the response cannot be completed. */
            conn_drop(c);
            break;
        }
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    curio_file_close(f);
}

/* ---- requests ---- */

static void serve_plaintext(struct conn *c, bool head, bool keep)
{
    if (!make_room(c))
        return;
    if (keep && !head && c->parser.http_minor == 1) {
        out_str(c, plain_resp, plain_len);
        return;
    }
    OUT_LIT(c, "HTTP/1.1 200 OK\r\nServer: curio\r\nDate: ");
    out_str(c, http_date(), 29);
    OUT_LIT(c, "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n");
    if (!keep || c->parser.http_minor == 0)
        out_connection(c, keep);
    OUT_LIT(c, "\r\n");
    if (!head)
        out_str(c, plaintext_body, sizeof plaintext_body - 1);
}

/* Answer the request whose end the parser just reached. Returns whether the connection
 * stays open. */
static bool handle_request(struct conn *c)
{
    bool keep = http_should_keep_alive(&c->parser) && !c->srv->draining && !c->parser.upgrade;
    c->url[c->url_len] = '\0';
    unsigned method = c->parser.method;
    bool head = method == HTTP_HEAD;
    if (method != HTTP_GET && !head)
        out_error(c, 405, keep, false);
    else if (c->url_len == 10 && memcmp(c->url, "/plaintext", 10) == 0)
        serve_plaintext(c, head, keep);
    else
        serve_file(c, head, keep);
    return keep && !c->close && !c->dead;
}

static void reset_request(struct conn *c)
{
    c->began = false;
    c->close = false;
    c->err = 0;
    c->head_bytes = 0;
    c->url_len = 0;
    c->cur = HDR_NONE;
    c->in_value = false;
    c->field_len = 0;
    c->ims_len = 0;
    c->range_len = 0;
}

/* ---- http_parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    c->began = true;
    c->req_start = c->last_read;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->url_len + len > URL_MAX) {
        c->err = 414;
        return 1;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int head_bytes(struct conn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > HEAD_MAX) {
        c->err = 431;
        return 1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (head_bytes(c, len))
        return 1;
    if (c->in_value) {
        c->in_value = false;
        c->field_len = 0;
    }
    size_t n = len < sizeof c->field - c->field_len ? len : sizeof c->field - c->field_len;
    memcpy(c->field + c->field_len, at, n);
    c->field_len += n;
    return 0;
}

/* Append a header value's piece to buf (cap bytes, one kept for a NUL). A value that
 * does not fit leaves *used at cap, which marks it as too long: it is then ignored. */
static void append(char *buf, size_t cap, size_t *used, const char *at, size_t len)
{
    if (*used >= cap)
        return;
    if (len > cap - 1 - *used) {
        *used = cap;
        return;
    }
    memcpy(buf + *used, at, len);
    *used += len;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (head_bytes(c, len))
        return 1;
    if (!c->in_value) {
        c->in_value = true;
        c->cur = HDR_NONE;
        if (c->field_len == 17 && strncasecmp(c->field, "If-Modified-Since", 17) == 0)
            c->cur = HDR_IMS, c->ims_len = 0;
        else if (c->field_len == 5 && strncasecmp(c->field, "Range", 5) == 0)
            c->cur = HDR_RANGE, c->range_len = 0;
    }
    if (c->cur == HDR_IMS)
        append(c->ims, sizeof c->ims, &c->ims_len, at, len);
    else if (c->cur == HDR_RANGE)
        append(c->range, sizeof c->range, &c->range_len, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    /* Stop here: the request is answered before the parser reads the next one. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_message_complete = on_message_complete,
};

/* ---- connections ---- */

/* Answer a bad request and end the connection. */
static void fail_request(struct conn *c, int status)
{
    out_error(c, status, false, false);
    flush_out(c);
}

/* Parse and answer the bytes in c->in[0..len). Returns whether to keep reading. */
static bool process(struct conn *c, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        size_t n = http_parser_execute(&c->parser, &settings, c->in + pos, len - pos);
        pos += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            bool keep = handle_request(c);
            reset_request(c);
            if (!keep)
                return false;
            if (c->parser.upgrade)
                return false;
            continue;
        }
        if (e != HPE_OK) {
            fail_request(c, c->err ? c->err : e == HPE_HEADER_OVERFLOW ? 431 : 400);
            return false;
        }
        if (n == 0)
            break;
    }
    return true;
}

static void serve_conn(struct conn *c)
{
    struct server *srv = c->srv;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    reset_request(c);
    for (;;) {
        /* Between requests the idle timeout applies, counted from now; within one, the
         * header timeout counted from the read that brought its first byte. The watchdog
         * enforces both (see watchdog): the read itself carries no deadline. */
        if (srv->draining && !c->began)
            return; /* shutting down: no new request on this connection */
        c->idle_wait = !c->began;
        c->read_since = c->began ? c->req_start : curio_clock();
        c->reading = true;
        ssize_t r = curio_recv(c->sock, c->in, IN_CAP, 0);
        c->reading = false;
        c->idle_wait = false;
        if (c->expired) {
            /* The deadline passed (bytes that raced with it are not served). */
            if (c->began || r > 0)
                fail_request(c, 408);
            return;
        }
        if (r <= 0)
            return; /* end of stream (also inside a request), an error, or cancelled */
        c->last_read = curio_clock();
        date_refresh();
        if (!process(c, (size_t)r))
            break;
        if (!flush_out(c))
            return;
    }
    flush_out(c);
}

static long conn_main(void *arg)
{
    struct conn *c = arg;
    struct server *srv = c->srv;
    serve_conn(c);
    if (!c->dead)
        curio_socket_close(c->sock);
    /* Unlink. */
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    curio_semaphore_release(&srv->slots);
    if (srv->draining && srv->nconns == 0)
        curio_event_set(&srv->drained);
    curio_task_release(c->task);
    free(c);
    return 0;
}

/* Start a task for the accepted connection cs, which holds one of the slots. */
static void start_conn(struct server *srv, curio_socket *cs)
{
    struct conn *c = malloc(sizeof *c);
    if (!c) {
        curio_socket_abort(cs);
        curio_semaphore_release(&srv->slots);
        return;
    }
    c->srv = srv;
    c->sock = cs;
    c->dead = false;
    c->began = false;
    c->idle_wait = false;
    c->reading = false;
    c->expired = false;
    c->out_len = 0;
    c->last_read = c->req_start = c->read_since = 0;
    if (curio_spawn_ex(&c->task, conn_main, c, NULL) < 0) {
        curio_socket_abort(cs);
        curio_semaphore_release(&srv->slots);
        free(c);
        return;
    }
    c->prev = NULL;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
}

/* Take every connection already waiting in the listen backlog while slots are free, with
 * accept4(2) on the listening descriptor (poll(2) first, so that it never blocks). Without
 * this a burst of N connections (a load generator's start) is taken one per turn of the
 * kernel's loop, and the last of them waits N turns for its first answer, each turn
 * serving the connections already taken. */
static void accept_queued(struct server *srv)
{
    unsigned taken = 0;
    for (;;) {
        /* After every ACCEPT_BURST connections the others run (and the new ones reach
         * their first read) before more are taken: thousands of connections at once do
         * not stall the ones already served. */
        if (taken && taken % ACCEPT_BURST == 0 && curio_yield() < 0)
            return;
        int lfd = srv->ls ? curio_socket_fd(srv->ls) : -1;
        if (lfd < 0 || curio_semaphore_value(&srv->slots) == 0)
            return;
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
            return;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return; /* an error is left to the next curio_accept */
        curio_socket *cs;
        if (curio_socket_wrap(&cs, fd) < 0) {
            close(fd);
            return;
        }
        curio_semaphore_acquire(&srv->slots); /* a free slot: does not block */
        start_conn(srv, cs);
        taken++;
    }
}

/* Accept connections while a slot is free: at --max-conns, new connections wait in the
 * listen backlog until one ends. */
static long acceptor(void *arg)
{
    struct server *srv = arg;
    for (;;) {
        if (curio_semaphore_acquire(&srv->slots) < 0)
            return 0;
        curio_socket *cs;
        int rc = curio_accept(srv->ls, &cs, NULL);
        if (rc < 0) {
            curio_semaphore_release(&srv->slots);
            if (rc == -ECANCELED || rc == -EBADF || rc == -EINVAL)
                return 0;
            if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -ENOBUFS) {
                if (curio_sleep(0.05) < 0)
                    return 0;
            }
            continue;
        }
        start_conn(srv, cs);
        accept_queued(srv);
    }
}

/* ---- deadlines ---- */

/*
 * The header and idle timeouts of reading connections. A timeout scope around each read
 * would cost every read a scope and a deadline in the ring (a linked timeout SQE, armed and
 * disarmed, with a completion of its own); instead each read notes when its timeout began
 * (c->read_since, one clock read), and the watchdog wakes every srv->tick, reads the clock
 * once and looks at every connection: one that has been reading for its timeout or longer
 * is marked expired and its reading shut down (SHUT_RD), which ends its read; the
 * connection then answers 408 (inside a request) or closes. A timeout so fires no earlier
 * than its value and about one tick after it.
 */
static long watchdog(void *arg)
{
    struct server *srv = arg;
    for (;;) {
        if (curio_sleep((double)srv->tick / 1e9) < 0)
            return 0;
        int64_t now = curio_clock();
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (!c->reading || c->expired || c->dead)
                continue;
            if (now - c->read_since >= (c->began ? srv->header_ns : srv->idle_ns)) {
                c->expired = true;
                curio_socket_shutdown(c->sock, SHUT_RD);
            }
        }
    }
}

/* ---- start and shutdown ---- */

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return -errno;
    fprintf(fp, "%d\n", port);
    if (fclose(fp) != 0)
        return -errno;
    if (rename(tmp, path) != 0)
        return -errno;
    return 0;
}

/*
 * Stop accepting (the listening socket is closed), let every connection finish the
 * request it is in (a connection between requests ends at once: its read is shut down),
 * and wait up to --shutdown-timeout for them; then cancel the rest and wait for them.
 */
static void shutdown_server(struct server *srv, curio_task *acc)
{
    srv->draining = true;
    curio_cancel(acc);
    curio_socket_close(srv->ls);
    srv->ls = NULL;
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->idle_wait && !c->dead)
            curio_socket_shutdown(c->sock, SHUT_RD);
    if (srv->nconns == 0)
        return;
    curio_scope sc;
    curio_timeout_after(&sc, srv->cfg.shutdown_timeout);
    curio_event_wait(&srv->drained);
    curio_scope_close(&sc);
    if (srv->nconns == 0)
        return;
    for (struct conn *c = srv->conns; c; c = c->next)
        curio_cancel_nowait(c->task);
    curio_event_wait(&srv->drained);
}

static long main_task(void *arg)
{
    struct server *srv = arg;
    static const int sigs[] = {SIGTERM, SIGINT};
    curio_signal_event *sev;
    int rc = curio_signal_event_create(&sev, sigs, 2);
    if (rc < 0) {
        fprintf(stderr, "curio-httpd: signals: %s\n", curio_strerror(rc));
        return 1;
    }
    rc = curio_file_open(&srv->root, srv->cfg.root, O_RDONLY | O_DIRECTORY, 0);
    if (rc < 0) {
        fprintf(stderr, "curio-httpd: --root %s: %s\n", srv->cfg.root, curio_strerror(rc));
        curio_signal_event_destroy(sev);
        return 1;
    }
    curio_server_options so = {.backlog = 4096};
    rc = curio_tcp_server_socket(&srv->ls, srv->cfg.host, (uint16_t)srv->cfg.port, &so);
    if (rc < 0) {
        fprintf(stderr, "curio-httpd: listen on %s:%d: %s\n", srv->cfg.host, srv->cfg.port,
                curio_strerror(rc));
        curio_file_close(srv->root);
        curio_signal_event_destroy(sev);
        return 1;
    }
    int port = curio_socket_port(srv->ls);
    if (srv->cfg.port_file) {
        rc = write_port_file(srv->cfg.port_file, port);
        if (rc < 0) {
            fprintf(stderr, "curio-httpd: --port-file %s: %s\n", srv->cfg.port_file,
                    curio_strerror(rc));
            curio_socket_close(srv->ls);
            curio_file_close(srv->root);
            curio_signal_event_destroy(sev);
            return 1;
        }
    } else {
        printf("%d\n", port);
        fflush(stdout);
    }
    date_refresh();
    curio_task *wd = curio_spawn(watchdog, srv);
    curio_task *acc = wd ? curio_spawn(acceptor, srv) : NULL;
    if (!acc) {
        if (wd) {
            curio_cancel(wd);
            curio_task_release(wd);
        }
        curio_socket_close(srv->ls);
        curio_file_close(srv->root);
        curio_signal_event_destroy(sev);
        return 1;
    }
    curio_signal_event_wait(sev);
    shutdown_server(srv, acc);
    curio_task_release(acc);
    curio_cancel(wd);
    curio_task_release(wd);
    curio_signal_event_destroy(sev);
    curio_file_close(srv->root);
    return 0;
}

/* ---- options ---- */

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: curio-httpd [--host ADDR] [--port N] [--root DIR] [--max-conns N]\n"
            "                   [--header-timeout S] [--idle-timeout S] [--write-timeout S]\n"
            "                   [--shutdown-timeout S] [--port-file PATH]\n");
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    /* At most 1e6 s, so that a deadline in nanoseconds cannot overflow. */
    if (*s == '\0' || *end != '\0' || !(v > 0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct server srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg = (struct config){
        .host = "127.0.0.1", .port = 8080, .root = ".",
        .header_timeout = 10, .idle_timeout = 60, .write_timeout = 30,
        .shutdown_timeout = 5,
    };
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"root", required_argument, NULL, 'r'},
        {"max-conns", required_argument, NULL, 'm'},
        {"header-timeout", required_argument, NULL, 'h'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"write-timeout", required_argument, NULL, 'w'},
        {"shutdown-timeout", required_argument, NULL, 's'},
        {"port-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, '?'},
        {0, 0, 0, 0},
    };
    int opt, li = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, &li)) != -1) {
        char *end;
        long v;
        bool ok = true;
        switch (opt) {
        case 'H': srv.cfg.host = optarg; break;
        case 'p':
            v = strtol(optarg, &end, 10);
            ok = *optarg && !*end && v >= 0 && v <= 65535;
            srv.cfg.port = (int)v;
            break;
        case 'r': srv.cfg.root = optarg; break;
        case 'm':
            v = strtol(optarg, &end, 10);
            ok = *optarg && !*end && v > 0 && v <= 1000000;
            srv.cfg.max_conns = (unsigned)v;
            break;
        case 'h': ok = parse_seconds(optarg, &srv.cfg.header_timeout); break;
        case 'i': ok = parse_seconds(optarg, &srv.cfg.idle_timeout); break;
        case 'w': ok = parse_seconds(optarg, &srv.cfg.write_timeout); break;
        case 's': ok = parse_seconds(optarg, &srv.cfg.shutdown_timeout); break;
        case 'f': srv.cfg.port_file = optarg; break;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "curio-httpd: bad value for --%s: %s\n", longopts[li].name,
                    optarg);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    /* Every descriptor the hard limit allows; by default as many connections as fit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (srv.cfg.max_conns == 0) {
        rlim_t lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        srv.cfg.max_conns = lim > 1000064 ? 1000000 : lim > 128 ? (unsigned)(lim - 64) : 64;
    }
    srv.slots = (curio_semaphore)CURIO_SEMAPHORE_INIT(srv.cfg.max_conns);
    /* The watchdog's tick: an eighth of the shorter read timeout, within 5 ms .. 250 ms. */
    srv.header_ns = (int64_t)(srv.cfg.header_timeout * 1e9);
    srv.idle_ns = (int64_t)(srv.cfg.idle_timeout * 1e9);
    int64_t shorter = srv.header_ns < srv.idle_ns ? srv.header_ns : srv.idle_ns;
    srv.tick = shorter / 8 < 5000000 ? 5000000 : shorter / 8 > 250000000 ? 250000000
                                                                         : shorter / 8;

    signal(SIGPIPE, SIG_IGN);
    static const int sigs[] = {SIGTERM, SIGINT};
    int rc = curio_enable_signals(sigs, 2);
    if (rc < 0) {
        fprintf(stderr, "curio-httpd: %s\n", curio_strerror(rc));
        return 1;
    }
    long result = 1;
    /* Thousands of connections: a ring deep enough that a pass over all of them submits
     * without stopping for room, and their completions fit the completion queue. */
    curio_options ko = {.quiet = false, .ring_entries = 4096};
    rc = curio_run(main_task, &srv, &ko, &result);
    if (rc < 0) {
        fprintf(stderr, "curio-httpd: %s\n", curio_strerror(rc));
        return 1;
    }
    return (int)result;
}
