/*
 * pmap.c - pieces of an input through worker threads, results in order
 * (pmap.h).
 *
 * A ring of slots, each one piece: the caller fills slot seq % nslots
 * with piece seq (state READY), workers claim pieces in order (BUSY) and
 * leave their output bytes in the slot (DONE), and the caller writes
 * slots in order and empties them.  One mutex guards the states; the
 * pieces' work and the writing run outside it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmap.h"
#include "banned.h"

enum { SLOT_EMPTY, SLOT_READY, SLOT_BUSY, SLOT_DONE };

typedef struct slot {
    int state;
    rec_reader *in;
    uint64_t rows; /* in the piece */
    rec_bytes out;
    int rc;
    errctx err;
} slot;

typedef struct pmap {
    pmap_fn fn;
    void *ctx;
    slot *slots;
    int nslots;
    uint64_t submitted, claimed;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    rec_writer **writers; /* per worker */
} pmap;

typedef struct worker_arg {
    pmap *m;
    int id;
} worker_arg;

size_t pmap_piece_bytes(void)
{
    const char *s = getenv("RECSTAGE_PIECE_BYTES");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*end && v >= 1 && v <= (1ull << 30))
            return (size_t)v;
    }
    return (size_t)1 << 20;
}

/* Run fn on one piece with worker id's writer; its bytes go to sl->out. */
static void run_piece(pmap *m, int id, slot *sl)
{
    rec_writer *pw = m->writers[id];
    sl->rc = m->fn(m->ctx, id, sl->in, pw, &sl->err);
    if (sl->rc == 0)
        sl->rc = rec_writer_piece_bytes(pw, &sl->out, &sl->err);
}

static void *worker_main(void *arg)
{
    worker_arg *a = arg;
    pmap *m = a->m;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->stop && m->claimed == m->submitted)
            pthread_cond_wait(&m->work, &m->mu);
        if (m->stop)
            break;
        slot *sl = &m->slots[m->claimed % (uint64_t)m->nslots];
        m->claimed++;
        sl->state = SLOT_BUSY;
        pthread_mutex_unlock(&m->mu);
        run_piece(m, a->id, sl);
        pthread_mutex_lock(&m->mu);
        sl->state = SLOT_DONE;
        pthread_cond_signal(&m->done);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* Write a done slot's bytes (or take its error) and empty it. */
static int drain(rec_writer *w, slot *sl, cli_progress *prog, errctx *e)
{
    int rc = sl->rc;
    if (rc < 0)
        *e = sl->err;
    else
        rc = rec_writer_put_bytes(w, &sl->out, e);
    if (rc == 0 && prog)
        cli_progress_update(prog, prog->done + (double)sl->rows);
    rec_close(sl->in);
    sl->in = NULL;
    sl->state = SLOT_EMPTY;
    return rc;
}

/* Cut the next piece into sl (its rows counted). */
static int take(rec_reader *r, size_t piece_bytes, slot *sl, errctx *e)
{
    uint64_t before = rec_rows(r);
    int got = rec_take(r, piece_bytes, &sl->in, e);
    sl->rows = rec_rows(r) - before;
    return got;
}

static int run_serial(pmap *m, rec_reader *r, rec_writer *w, size_t piece_bytes, cli_progress *prog, errctx *e)
{
    slot *sl = &m->slots[0];
    for (;;) {
        int got = take(r, piece_bytes, sl, e);
        if (got <= 0)
            return got;
        run_piece(m, 0, sl);
        if (drain(w, sl, prog, e) < 0)
            return -1;
    }
}

int pmap_run(rec_reader *r, rec_writer *w, int threads, size_t piece_bytes, pmap_fn fn, void *ctx,
             cli_progress *prog, errctx *e)
{
    if (threads < 1)
        threads = 1;
    pmap m;
    memset(&m, 0, sizeof m);
    m.fn = fn;
    m.ctx = ctx;
    m.nslots = threads == 1 ? 1 : threads + 2;
    m.slots = xcalloc((size_t)m.nslots, sizeof *m.slots);
    m.writers = xcalloc((size_t)threads, sizeof *m.writers);
    for (int i = 0; i < threads; i++)
        m.writers[i] = rec_writer_piece(w);
    int rc;
    if (threads == 1) {
        rc = run_serial(&m, r, w, piece_bytes, prog, e);
        goto out;
    }
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.work, NULL);
    pthread_cond_init(&m.done, NULL);
    pthread_t *tid = xcalloc((size_t)threads, sizeof *tid);
    worker_arg *args = xcalloc((size_t)threads, sizeof *args);
    int started = 0;
    for (; started < threads; started++) {
        args[started] = (worker_arg){&m, started};
        if (pthread_create(&tid[started], NULL, worker_main, &args[started]) != 0)
            break;
    }
    rc = 0;
    if (started == 0)
        rc = err_set(e, "cannot start a worker thread");
    uint64_t written = 0;
    int eof = 0, take_rc = 0;
    errctx take_err;
    while (rc == 0) {
        slot *next = &m.slots[written % (uint64_t)m.nslots];
        pthread_mutex_lock(&m.mu);
        int ready = written < m.submitted && next->state == SLOT_DONE;
        int room = m.submitted - written < (uint64_t)m.nslots;
        if (!ready && (eof || !room)) {
            if (written == m.submitted) {
                pthread_mutex_unlock(&m.mu);
                break;
            }
            while (next->state != SLOT_DONE)
                pthread_cond_wait(&m.done, &m.mu);
            ready = 1;
        }
        pthread_mutex_unlock(&m.mu);
        if (ready) {
            rc = drain(w, next, prog, e);
            written++;
            continue;
        }
        /* room for a piece: cut it (the slot is empty: nobody else uses it) */
        slot *sl = &m.slots[m.submitted % (uint64_t)m.nslots];
        int got = take(r, piece_bytes, sl, &take_err);
        if (got <= 0) {
            eof = 1;
            take_rc = got;
            continue;
        }
        pthread_mutex_lock(&m.mu);
        sl->state = SLOT_READY;
        m.submitted++;
        pthread_cond_signal(&m.work);
        pthread_mutex_unlock(&m.mu);
    }
    if (rc == 0 && take_rc < 0) {
        *e = take_err;
        rc = -1;
    }
    /* stop: workers finish the piece in hand; unclaimed pieces are dropped */
    pthread_mutex_lock(&m.mu);
    m.stop = 1;
    pthread_cond_broadcast(&m.work);
    pthread_mutex_unlock(&m.mu);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    free(args);
    pthread_mutex_destroy(&m.mu);
    pthread_cond_destroy(&m.work);
    pthread_cond_destroy(&m.done);
out:
    for (int i = 0; i < m.nslots; i++) {
        rec_close(m.slots[i].in);
        rec_bytes_free(&m.slots[i].out);
    }
    free(m.slots);
    for (int i = 0; i < threads; i++)
        rec_writer_abort(m.writers[i]);
    free(m.writers);
    return rc;
}
