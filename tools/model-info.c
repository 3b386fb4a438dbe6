/*
 * model-info - print a model file's kind, version, writer, metadata,
 * expected columns, tensors and checksum status; see model-info(1).
 */
#include <cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: model-info [OPTION]... MODEL...\n"
    "Print a recstage model file's kind, version, writer, metadata, expected\n"
    "columns, tensors and checksum status.  Exit status 1 if a model cannot be\n"
    "read, its checksum does not match, or it holds NaN or Inf weights.\n"
    "\n"
    "  -j, --json     print one JSON object per model instead of text\n"
    "      --help     display this help and exit\n"
    "      --version  output version information and exit\n"
    "\n"
    "Example:\n"
    "  model-info data-samples/tiny.model\n";

static void shape_text(const model_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static int report_text(const char *path, model *m, const model_check *chk)
{
    const char *writer = model_meta_get(m, "writer");
    printf("file\t%s\n", path);
    printf("kind\trecstage.%s\n", model_kind(m));
    printf("version\t%d\n", model_version(m));
    printf("writer\t%s\n", writer ? writer : "(unknown)");
    printf("size\t%" PRIu64 " bytes (header %" PRIu64 ")\n", chk->file_size, chk->header_len);
    if (chk->crc_ok == 1)
        printf("checksum\tok (crc32 %08" PRIx32 ")\n", chk->crc_actual);
    else if (chk->crc_ok == 0)
        printf("checksum\tMISMATCH (stored %08" PRIx32 ", actual %08" PRIx32 ")\n", chk->crc_stored,
               chk->crc_actual);
    else
        printf("checksum\tmissing (actual %08" PRIx32 ")\n", chk->crc_actual);
    printf("nonfinite\t%zu\n", chk->nonfinite);
    size_t params = 0;
    for (int i = 0; i < model_ntensors(m); i++)
        params += model_tensor_at(m, i)->count;
    printf("parameters\t%zu\n", params);
    const char *json = model_header_json(m);
    cJSON *root = cJSON_Parse(json ? json : "{}");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    for (cJSON *it = meta ? meta->child : NULL; it; it = it->next) {
        if (!strcmp(it->string, "format") || !strcmp(it->string, "format_version") ||
            !strcmp(it->string, "writer") || !strcmp(it->string, "crc32"))
            continue;
        printf("meta.%s\t%s\n", it->string, cJSON_IsString(it) ? it->valuestring : "?");
    }
    cJSON_Delete(root);
    for (int i = 0; i < model_ntensors(m); i++) {
        model_tensor *t = model_tensor_at(m, i);
        char shape[128];
        shape_text(t, shape, sizeof shape);
        printf("tensor\t%s\t%s\t%zu\n", t->name, shape, t->count);
    }
    return chk->crc_ok == 1 && chk->nonfinite == 0 ? 0 : -1;
}

static int report_json(const char *path, model *m, const model_check *chk)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    char kind[128];
    snprintf(kind, sizeof kind, "recstage.%s", model_kind(m));
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddNumberToObject(o, "version", model_version(m));
    const char *writer = model_meta_get(m, "writer");
    if (writer)
        cJSON_AddStringToObject(o, "writer", writer);
    cJSON_AddNumberToObject(o, "file_size", (double)chk->file_size);
    cJSON_AddNumberToObject(o, "header_length", (double)chk->header_len);
    cJSON_AddStringToObject(o, "checksum", chk->crc_ok == 1 ? "ok" : chk->crc_ok == 0 ? "mismatch" : "missing");
    char crc[16];
    snprintf(crc, sizeof crc, "%08" PRIx32, chk->crc_actual);
    cJSON_AddStringToObject(o, "crc32_actual", crc);
    cJSON_AddNumberToObject(o, "nonfinite", (double)chk->nonfinite);
    const char *json = model_header_json(m);
    cJSON *root = cJSON_Parse(json ? json : "{}");
    cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(root, "__metadata__");
    cJSON_Delete(root);
    cJSON_AddItemToObject(o, "metadata", meta ? meta : cJSON_CreateObject());
    const char *cols = model_meta_get(m, "columns");
    cJSON *colarr = cols ? cJSON_Parse(cols) : NULL;
    if (colarr)
        cJSON_AddItemToObject(o, "columns", colarr);
    cJSON *tensors = cJSON_CreateArray();
    size_t params = 0;
    for (int i = 0; i < model_ntensors(m); i++) {
        model_tensor *t = model_tensor_at(m, i);
        cJSON *tj = cJSON_CreateObject();
        cJSON_AddStringToObject(tj, "name", t->name);
        cJSON *shape = cJSON_CreateArray();
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON_AddItemToObject(tj, "shape", shape);
        cJSON_AddNumberToObject(tj, "count", (double)t->count);
        cJSON_AddItemToArray(tensors, tj);
        params += t->count;
    }
    cJSON_AddNumberToObject(o, "parameters", (double)params);
    cJSON_AddItemToObject(o, "tensors", tensors);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        cli_die("out of memory printing JSON");
    puts(s);
    free(s);
    return chk->crc_ok == 1 && chk->nonfinite == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    int json = 0;
    enum { OPT_HELP = 256, OPT_VERSION };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = 1;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return CLI_OK;
        case OPT_VERSION:
            cli_print_version();
        default:
            cli_usage_hint();
        }
    }
    if (optind >= argc)
        cli_usage_error("no model file given");
    int status = CLI_OK, printed = 0;
    for (int i = optind; i < argc; i++) {
        errctx e;
        model_check chk;
        model *m = model_read_lenient(argv[i], &chk, &e);
        if (!m) {
            fprintf(stderr, "%s: %s\n", cli_progname(), e.msg);
            status = CLI_EDATA;
            continue;
        }
        if (!json && printed++)
            putchar('\n');
        int bad = json ? report_json(argv[i], m, &chk) : report_text(argv[i], m, &chk);
        if (bad) {
            fprintf(stderr, "%s: %s: %s\n", cli_progname(), argv[i],
                    chk.crc_ok == 0   ? "checksum mismatch (file corrupted?)"
                    : chk.crc_ok < 0 ? "no crc32 in the metadata"
                                     : "model holds NaN or Inf weights");
            status = CLI_EDATA;
        }
        model_free(m);
    }
    return status;
}
