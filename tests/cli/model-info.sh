#!/bin/sh
# model-info: the report of a good model, --json, and the exit status and
# message for corrupt, truncated and foreign files.
. "$(dirname "$0")/../lib.sh"
M=$ROOT/data-samples/tiny.model

t_run model-info --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: model-info"
t_run model-info --version
t_status "--version exits 0" 0
t_run model-info
t_status "no model is a usage error" 2
t_run model-info --nope "$M"
t_status "bad option exits 2" 2

t_run model-info "$M"
t_status "good model exits 0" 0
t_out_has "kind" "$(printf 'kind\trecstage.demo')"
t_out_has "checksum ok" "$(printf 'checksum\tok (crc32 ')"
t_out_has "tensor with shape" "$(printf 'tensor\tweight\t[1, 4]\t4')"
t_out_has "columns" 'meta.columns	["x_0","x_1","x_2","x_3"]'
t_run model-info --json "$M"
t_status "json exits 0" 0
t_out_has "json kind" '"kind":"recstage.demo"'
t_out_has "json columns parsed" '"columns":["x_0","x_1","x_2","x_3"]'
t_out_has "json tensors" '{"name":"bias","shape":[1],"count":1}'

# flip one byte of tensor data: checksum mismatch, reported, exit 1
size=$(wc -c < "$M")
cp "$M" "$T/flip.model"
printf '\177' | dd of="$T/flip.model" bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null
t_run model-info "$T/flip.model"
t_status "corrupt model exits 1" 1
t_out_has "mismatch reported" "MISMATCH"
t_err_has "mismatch message" "flip.model: checksum mismatch"

head -c $((size - 3)) "$M" > "$T/trunc.model"
t_run model-info "$T/trunc.model"
t_status "truncated model exits 1" 1
t_err_has "truncation named" "trunc.model: tensor 'bias': data_offsets [16, 20] lie outside the 17-byte data section"

# a header length beyond the file, written byte by byte
printf '\377\000\000\000\000\000\000\000{}' > "$T/hl.model"
t_run model-info "$T/hl.model"
t_status "header length beyond file exits 1" 1
t_err_has "header length named" "hl.model: header length 255 is beyond the end of the file (10 bytes)"

# a hand-written safetensors file that is not a recstage model
json='{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
len=${#json}
printf "\\$(printf '%03o' "$len")\\000\\000\\000\\000\\000\\000\\000%s\\000\\000\\200\\077" "$json" > "$T/foreign.model"
t_run model-info "$T/foreign.model"
t_status "foreign safetensors exits 1" 1
t_err_has "foreign file named" "foreign.model: not a recstage model"

t_run model-info "$T/none.model"
t_status "missing file exits 1" 1
t_err_has "missing file named" "none.model: No such file or directory"
t_run model-info "$T/none.model" "$M"
t_status "one bad of two exits 1" 1
t_out_has "the good one is still reported" "recstage.demo"
if [ -w /dev/full ]; then
    t_run sh -c "model-info '$M' > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
fi
t_done
