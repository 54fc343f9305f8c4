"""COCO mAP of a YOLOv5 checkpoint: yolov5's ``val.run`` (letterboxed rect batches, NMS at conf 0.001 / IoU 0.65,
COCO-JSON predictions with the 80 -> 91 class map) and pycocotools' COCOeval on ``annotations/instances_val2017.json``.

    python -m dero.yolo.val --weights runs/dero/yolov5n_dero/best.pt --data-path data/coco --output-dir O

Writes ``eval.json`` (pycocotools mAP@0.5:0.95 and mAP@0.5, plus yolov5's own P/R/mAP) and the predictions JSON.
"""

import contextlib
import io
import json
from pathlib import Path

import run_contract as rc
import torch

from dero.checkpoint import load_checkpoint
from dero.yolo import coco, import_yolov5

IOU_THRES = 0.65  # yolov5 evaluates COCO at NMS IoU 0.65 ("best pycocotools")


def coco_map(pred_json: Path, anno_json: Path, image_ids) -> tuple[float, float]:
    """(mAP@0.5:0.95, mAP@0.5) from pycocotools on the given images."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        anno = COCO(str(anno_json))
        if not json.loads(Path(pred_json).read_text()):
            return 0.0, 0.0
        evaluator = COCOeval(anno, anno.loadRes(str(pred_json)), "bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
    evaluator.summarize()
    return float(evaluator.stats[0]), float(evaluator.stats[1])


def evaluate(model: torch.nn.Module, data_path, output_dir, imgsz: int = 640, batch_size: int = 32,
             workers: int = 8, tag: str = "") -> dict:
    """mAP of ``model`` (a yolov5 DetectionModel) on the val split of ``data_path``; files go to ``output_dir``."""
    import_yolov5()
    from yolov5 import val as yolo_val
    from yolov5.utils.dataloaders import create_dataloader

    data = coco.data_dict(data_path)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    grid = max(int(model.stride.max()), 32)
    loader = create_dataloader(coco.image_list(data, "val", out), imgsz, batch_size, grid, rect=True, rank=-1,
                               workers=workers, pad=0.5)[0]
    for stale in out.glob("_predictions.json"):
        stale.unlink()
    results, _, _, _ = yolo_val.run(data, batch_size=batch_size, imgsz=imgsz, iou_thres=IOU_THRES, half=False,
                                    model=model, dataloader=loader, save_dir=out, save_json=True, plots=False)
    pred_json = out / "_predictions.json"  # val.run names it after its (absent) weights file; none if no boxes
    named = out / f"predictions{'_' + tag if tag else ''}.json"
    if pred_json.exists():
        pred_json.replace(named)
    else:
        rc.write_json(named, [])
    ids = [int(Path(f).stem) for f in loader.dataset.im_files]
    map50_95, map50 = coco_map(named, Path(data["path"]) / "annotations" / "instances_val2017.json", ids)
    return {"map50_95": map50_95, "map50": map50, "yolov5_precision": float(results[0]),
            "yolov5_recall": float(results[1]), "yolov5_map50": float(results[2]), "yolov5_map50_95": float(results[3]),
            "num_val_images": len(ids), "imgsz": imgsz}


def model_from_checkpoint(path, use_ema: bool = True) -> torch.nn.Module:
    import_yolov5()  # unpickling the model imports yolov5: through dero's import
    ckpt = load_checkpoint(path, "YOLOv5 checkpoint", hint="pass a .pt written by dero.yolo.train or yolov5")
    model = ckpt.get("ema") if use_ema and isinstance(ckpt, dict) and ckpt.get("ema") is not None else None
    model = model if model is not None else (ckpt.get("model") if isinstance(ckpt, dict) else None)
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "stride"):
        raise rc.bad_file(path, "holds no yolov5 model (no pickled 'model'/'ema' module)")
    return model


def get_args_parser(add_help: bool = True) -> rc.ArgumentParser:
    p = rc.ArgumentParser(description="COCO mAP (pycocotools) of a YOLOv5 checkpoint", add_help=add_help)
    p.add_argument("--weights", required=True, help="checkpoint (.pt) written by dero.yolo.train")
    p.add_argument("--data-path", required=True, help="COCO 2017 root in yolov5's layout (or data/mini/coco)")
    p.add_argument("--output-dir", required=True, help="where eval.json and the predictions go")
    p.add_argument("--imgsz", "--img", type=rc.positive_int, default=640, help="inference size (px)")
    p.add_argument("--batch-size", type=rc.positive_int, default=32, help="batch size")
    p.add_argument("--workers", type=rc.nonnegative_int, default=8, help="data loader workers")
    p.add_argument("--no-ema", action="store_true", help="evaluate the raw weights instead of the EMA ones")
    p.add_argument("--dataset-name", default="coco", help="label in eval.json ('mini' for the offline mini set)")
    return p


@rc.command
def main(argv=None) -> dict:
    args = get_args_parser().parse_args(argv)
    try:
        coco.data_dict(args.data_path)
    except coco.CocoLayoutError as e:
        raise rc.UsageError(str(e)) from None
    model = model_from_checkpoint(args.weights, use_ema=not args.no_ema)
    result = evaluate(model, args.data_path, args.output_dir, args.imgsz, args.batch_size, args.workers)
    result.update(weights=str(args.weights), dataset=args.dataset_name, ema=not args.no_ema)
    rc.write_json(Path(args.output_dir) / "eval.json", result)
    print(json.dumps(result))
    return result


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
