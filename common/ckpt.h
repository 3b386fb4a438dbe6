/*
 * ckpt.h - checkpoints of the trainers (maml-train, cql-ddqn-train):
 * stop requests by signal, and the checkpoint file.
 *
 * A trainer that takes --checkpoint FILE turns SIGINT and SIGTERM into a
 * request (ckpt_catch_signals): it finishes the optimizer step under way,
 * writes FILE atomically (a model file of kind recstage.checkpoint, via a
 * temporary file, fsync and rename, so a kill during the write leaves the
 * previous FILE whole) and exits with status 128 + the signal.  A second
 * signal kills it as before.  --checkpoint-every N also writes one every
 * N steps, which is what survives a SIGKILL.
 *
 * What a checkpoint holds: every parameter tensor, the optimizer's state
 * (opt.m.*, opt.v.*, opt.step), the trainer's own extra tensors (the
 * target network of cql-ddqn-train), and metadata: checkpoint.of (the
 * tool), checkpoint.config (every option that shapes training, and a
 * fingerprint of the data), checkpoint.epoch and checkpoint.pos (where
 * the next step starts).  The random generator needs no state of its own:
 * every random choice of training comes from a stream keyed by the seed
 * and the epoch or step (rng.h), so the position is the generator's state.
 * Resuming from it with the same options and data therefore continues
 * with exactly the numbers an uninterrupted run would have used, and
 * writes a byte-identical model.
 */
#ifndef RECSTAGE_CKPT_H
#define RECSTAGE_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

/* From now on SIGINT and SIGTERM set a flag instead of killing (once). */
void ckpt_catch_signals(void);
/* The signal that asked to stop, or 0. */
int ckpt_stop_signal(void);

/* What a trainer needs to checkpoint and resume. */
typedef struct ckpt_cfg {
    const char *path;     /* where to write; NULL: no checkpoints */
    long long every;      /* also every N steps; 0: only on a stop request */
    const model *resume;  /* a checkpoint to continue from, or NULL */
    const char *of;       /* the tool */
    char config[1024];    /* options and data fingerprint */
} ckpt_cfg;

/* A fingerprint of n bytes of data, for checkpoint.config. */
uint64_t ckpt_hash(const void *data, size_t n, uint64_t h);

/* A new checkpoint model with the metadata of c and the position. */
model *ckpt_new(const ckpt_cfg *c, long long epoch, long long pos);
/* Read the position of c->resume after checking it is a checkpoint of
 * c->of with the same config; -1 with a message naming what differs. */
int ckpt_position(const ckpt_cfg *c, long long *epoch, long long *pos, errctx *e);
/* Read a checkpoint file (kind recstage.checkpoint). */
model *ckpt_read(const char *path, errctx *e);
/* Write m to c->path atomically; the writer string names the tool. */
int ckpt_write(const ckpt_cfg *c, model *m, errctx *e);

/* The usual checkpoint: the parameters P and the optimizer's state o at
 * (epoch, pos), and, when extra is not NULL, floats laid out like P's
 * (the target network of cql-ddqn-train) as tensors named prefix + P's
 * names.  Written to c->path atomically. */
struct nn_params;
struct nn_optim;
int ckpt_save_params(const ckpt_cfg *c, const struct nn_params *P, const struct nn_optim *o, long long epoch,
                     long long pos, const char *prefix, const float *extra, errctx *e);
/* Restore P, o (and extra) from c->resume, checked as ckpt_position does;
 * its position in *epoch, *pos (the caller checks their range). */
int ckpt_load_params(const ckpt_cfg *c, struct nn_params *P, struct nn_optim *o, const char *prefix, float *extra,
                     long long *epoch, long long *pos, errctx *e);

/* A trainer's return value when it stopped on request after writing its
 * checkpoint (the tool then exits 128 + ckpt_stop_signal()). */
#define CKPT_STOPPED (-2)

#endif
