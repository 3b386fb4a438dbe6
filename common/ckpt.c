/*
 * ckpt.c - stop requests and checkpoint files (ckpt.h).
 */
#include "ckpt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nn.h"
#include "nn_optim.h"
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

int ckpt_save_params(const ckpt_cfg *c, const nn_params *P, const nn_optim *o, long long epoch, long long pos,
                     const char *prefix, const float *extra, errctx *e)
{
    model *m = ckpt_new(c, epoch, pos);
    int rc = -1;
    if (nn_params_save(P, m, e) < 0 || nn_optim_save(o, P, m, e) < 0)
        goto out;
    for (int i = 0; extra && i < P->ntensors; i++) {
        char name[NN_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s%s", prefix, P->t[i].name);
        if (!model_add(m, name, P->t[i].ndim, P->t[i].shape, extra + P->t[i].offset)) {
            err_set(e, "tensor '%s': cannot add to the checkpoint", name);
            goto out;
        }
    }
    rc = ckpt_write(c, m, e);
out:
    model_free(m);
    return rc;
}

int ckpt_load_params(const ckpt_cfg *c, nn_params *P, nn_optim *o, const char *prefix, float *extra,
                     long long *epoch, long long *pos, errctx *e)
{
    if (ckpt_position(c, epoch, pos, e) < 0 || nn_params_load(P, c->resume, e) < 0 ||
        nn_optim_load(o, P, c->resume, e) < 0)
        return -1;
    for (int i = 0; extra && i < P->ntensors; i++) {
        char name[NN_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s%s", prefix, P->t[i].name);
        model_tensor *t = model_need(c->resume, name, P->t[i].count, e);
        if (!t)
            return -1;
        memcpy(extra + P->t[i].offset, t->data, P->t[i].count * sizeof(float));
    }
    return 0;
}
