"""Decode an encoded checkpoint into a loadable state_dict (the paper's decompression.py only decoded a
byte stream with hard-coded names and never rebuilt weights).

    python -m dnn_param_encode.decompression --input 21_0.01.dpe --reference 20_0.01.pt --output 21_decoded.pt
"""

import run_contract as rc
from dnn_param_encode.checkpoints import load_state_dict, save_checkpoint
from dnn_param_encode.compression import CodecError
from dnn_param_encode.fileformat import decode_checkpoint, read_header


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Rebuild a state_dict from an encoded file and its reference",
                                add_help=add_help)
    p.add_argument("--input", required=True, help="encoded file written by demo.py --output")
    p.add_argument("--reference", default=None, help="the checkpoint it was encoded against (not for Float16)")
    p.add_argument("--output", required=True, help="decoded checkpoint ({'state_dict': ...})")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    blob = rc.require_file(args.input, "encoded file", "write one with `python -m dnn_param_encode.demo --output`"
                           ).read_bytes()
    try:
        header, _ = read_header(blob)
    except CodecError as exc:
        raise rc.bad_file(args.input, f"cannot decode: {exc}") from None
    ref = load_state_dict(args.reference) if args.reference else None
    try:
        state_dict = decode_checkpoint(blob, ref)
    except CodecError as exc:
        raise rc.bad_file(args.input, f"cannot decode: {exc}") from None
    save_checkpoint(args.output, state_dict, decoded_with=header["method"])
    print(f"decoded {args.input} ({header['method']}, {header['n_params']} params) -> {args.output}")
    return state_dict


if __name__ == "__main__":
    rc.entry(main)
