/*
 * ckpt.c - stop requests and checkpoint files (ckpt.h).
 */
#include "ckpt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rng.h"
#include "banned.h"

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    if (stop_sig) { /* the second one kills */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_sig = sig;
}

void ckpt_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int ckpt_stop_signal(void)
{
    return (int)stop_sig;
}

uint64_t ckpt_hash(const void *data, size_t n, uint64_t h)
{
    return hash64(data, n, h);
}

model *ckpt_new(const ckpt_cfg *c, long long epoch, long long pos)
{
    model *m = model_new("checkpoint", 1);
    model_meta_set(m, "checkpoint.of", c->of);
    model_meta_set(m, "checkpoint.config", c->config);
    model_meta_set_int(m, "checkpoint.epoch", epoch);
    model_meta_set_int(m, "checkpoint.pos", pos);
    return m;
}

model *ckpt_read(const char *path, errctx *e)
{
    return model_read(path, "checkpoint", 1, e);
}

int ckpt_position(const ckpt_cfg *c, long long *epoch, long long *pos, errctx *e)
{
    const char *of = model_meta_get(c->resume, "checkpoint.of"), *cfg = model_meta_get(c->resume, "checkpoint.config");
    if (!of || strcmp(of, c->of) != 0)
        return err_set(e, "the checkpoint is one of '%s', not of %s", of ? of : "?", c->of);
    if (!cfg || strcmp(cfg, c->config) != 0)
        return err_set(e, "the checkpoint was made with other options or data (checkpoint: %.300s; now: %.300s)",
                       cfg ? cfg : "?", c->config);
    if (model_meta_int(c->resume, "checkpoint.epoch", epoch, e) < 0 ||
        model_meta_int(c->resume, "checkpoint.pos", pos, e) < 0)
        return -1;
    return 0;
}

int ckpt_write(const ckpt_cfg *c, model *m, errctx *e)
{
    char writer[64];
    snprintf(writer, sizeof writer, "%s %s", c->of, RECSTAGE_VERSION);
    return model_write(m, c->path, writer, e);
}
