/*
 * monitor/session.c - one monitor connection: the banner, then a loop of reading a command
 * line, running it and sending its reply with the next prompt. It is the handler of the
 * monitor's curio_run_server, so it runs in a task of its own on the monitor's thread and
 * kernel; its socket is the server's.
 */
#include "monitor.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* The longest command line, with its newline. */
#define LINE_MAX_BYTES 1024
#define PROMPT "curio > "
/* How many times in a row a read that found no memory is tried again (1 ms apart). */
#define STARVED_MAX 1000

/* Open the idle timeout's scope (none without a limit; none either when there is no
 * memory for its timer: the call then waits without a limit rather than failing). */
static int idle_begin(curio__mon_session *s, curio_scope *sc, bool *on)
{
    *on = false;
    if (s->mon->idle < 0)
        return 0;
    int rc = curio_timeout_after(sc, s->mon->idle);
    if (rc == -ENOMEM)
        return 0;
    *on = rc == 0;
    return rc;
}

/* Close it; rc is what the call under it returned, which an expiry of this scope turns
 * into -ETIMEDOUT with s->idle set (a slot held by a silent peer, or by one that does not
 * read its replies, is given back). */
static ssize_t idle_end(curio__mon_session *s, curio_scope *sc, bool on, ssize_t rc)
{
    if (on && curio_scope_close(sc) == -ETIMEDOUT) {
        s->idle = true;
        return -ETIMEDOUT;
    }
    return rc;
}

/* Send the reply (or, if it could not be built, a fixed one saying so) and the prompt if
 * asked: in one operation, so that a client waiting for the prompt always gets one. */
static int send_reply(curio__mon_session *s, bool prompt)
{
    static const char oom[] = "Error: out of memory for the reply\n";
    struct iovec iov[2] = {{s->out.p, s->out.len}, {PROMPT, prompt ? sizeof PROMPT - 1 : 0}};
    if (s->out.failed)
        iov[0] = (struct iovec){(void *)oom, sizeof oom - 1};
    ssize_t rc = 0;
    curio_scope sc;
    bool on;
    if (iov[0].iov_len + iov[1].iov_len && (rc = idle_begin(s, &sc, &on)) == 0)
        rc = idle_end(s, &sc, on, curio_stream_writelines(s->stream, iov, 2, NULL));
    curio__text_clear(&s->out);
    return rc < 0 ? (int)rc : 0;
}

int curio__mon_flush(curio__mon_session *s)
{
    return send_reply(s, false);
}

static void link_session(curio__mon_session *s)
{
    struct curio__monitor *m = s->mon;
    curio__list_push_front(&m->sessions, &s->node);
    m->nsessions++;
}

static void unlink_session(curio__mon_session *s)
{
    struct curio__monitor *m = s->mon;
    curio__list_remove(&m->sessions, &s->node);
    m->nsessions--;
}

/* Skip the rest of a line too long to read: byte by byte (from the stream's buffer, so
 * without a system call for most), as the bytes after its newline are the next command.
 * Returns 0, or -EMSGSIZE past SKIP_MAX bytes (the peer is not sending lines), 0 at end of
 * stream too, or a read error. */
#define SKIP_MAX (64 * 1024)

static ssize_t skip_line(curio_stream *st)
{
    for (size_t i = 0; i < SKIP_MAX; i++) {
        char c;
        ssize_t n = curio_stream_read(st, &c, 1);
        if (n <= 0 || c == '\n')
            return n < 0 ? n : 0;
    }
    return -EMSGSIZE;
}

/* Read and answer commands until quit, end of input, an error, or cancellation. */
static int serve(curio__mon_session *s)
{
    char line[LINE_MAX_BYTES + 1];
    int starved = 0;
    curio__text_printf(&s->out, "\nCurio Monitor: %zu tasks running\nType help for commands\n",
                       curio__tasks_peek(s->mon->k, NULL, 0));
    int rc = send_reply(s, true);
    while (rc == 0) {
        curio_scope sc;
        bool on;
        if ((rc = idle_begin(s, &sc, &on)) < 0)
            break;
        ssize_t n = idle_end(s, &sc, on, curio_stream_readline(s->stream, line, sizeof line));
        if (s->idle) {
            curio__text_printf(&s->out, "Closing: no command for %g s\n", s->mon->idle);
            send_reply(s, false); /* its own expiry is the peer's problem: not reading */
            return 0;
        }
        if (n == -EMSGSIZE) {
            curio__text_printf(&s->out, "Error: line too long (at most %d bytes)\n",
                               LINE_MAX_BYTES - 1);
            if ((rc = idle_begin(s, &sc, &on)) < 0)
                break;
            n = idle_end(s, &sc, on, skip_line(s->stream));
            if (s->idle)
                return 0;
            rc = send_reply(s, n == 0);
            if (n < 0 || rc < 0)
                return rc < 0 ? rc : (int)n; /* -EMSGSIZE: not sending lines at all */
            continue;
        }
        if (n == -ENOMEM && ++starved <= STARVED_MAX) {
            /* No memory to read with (the descriptor's first wait grows a table): the
             * line is still unread; try again in a moment. */
            int64_t z = curio_sleep(0.001);
            if (z < 0) {
                rc = (int)z;
                break;
            }
            continue;
        }
        if (n <= 0)
            return (int)n;
        starved = 0;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        rc = curio__mon_command(s, line);
        if (rc < 0)
            break;
        rc = send_reply(s, !s->quit);
        if (s->quit)
            break;
    }
    return rc;
}

/* Close after a reply the peer must see although it may still be sending: closing with
 * unread input would reset the connection, and the reset can overtake the reply. So shut
 * down our side, and read and drop what comes until the peer closes too (1 s at most). */
static void close_gently(curio_socket *client, curio_stream *st)
{
    if (curio_socket_shutdown(client, SHUT_WR) < 0)
        return;
    curio_scope sc;
    if (curio_timeout_after(&sc, 1.0) < 0)
        return;
    char junk[1024];
    while (curio_stream_read(st, junk, sizeof junk) > 0)
        ;
    curio_scope_close(&sc);
}

long curio__mon_session_main(curio_socket *client, const curio_addr *peer, void *arg)
{
    curio__mon_session s = {.mon = arg, .task = curio__self(), .target = -1};
    char name[8 + CURIO_ADDR_STRLEN] = "monitor ";
    curio_addr_format(peer, name + 8, CURIO_ADDR_STRLEN);
    curio_addr_format(peer, s.peer, sizeof s.peer);
    curio_task_set_name(s.task, name); /* cut to the 31 bytes a name holds */
    curio__task_set_internal(s.task);
    link_session(&s);
    curio_stream_options so = {.buffer_size = LINE_MAX_BYTES};
    int rc = curio_socket_as_stream(client, &s.stream, &so);
    if (rc == 0 && s.mon->nsessions > CURIO__MON_MAX_SESSIONS) {
        curio__text_printf(&s.out, "Error: too many monitor connections (at most %d)\n",
                           CURIO__MON_MAX_SESSIONS);
        rc = curio__mon_flush(&s);
        if (rc == 0)
            close_gently(client, s.stream);
    } else if (rc == 0) {
        rc = serve(&s);
        if (s.idle)
            rc = 0; /* the peer's silence (or its not reading): no failure of ours */
        if (rc == -EMSGSIZE)
            close_gently(client, s.stream);
    }
    unlink_session(&s);
    curio__text_free(&s.out);
    /* A peer that went away or misbehaved is no failure of the monitor's (the server would
     * log it). */
    return rc == -ECANCELED ? rc : 0;
}
