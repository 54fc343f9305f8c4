# dnn-param-encode: residual encoding of DNN parameters (Zhou et al., KBS 2023). Included by the root Makefile.
#   make param-encode-resnet18 [MINI=1]   train ResNet-18 (a checkpoint per epoch) -> eval_lossless/eval_lossy
#                                         for n = 1, 3, 5 -> bits/param plots
#   make param-encode-yolov5n [MINI=1]    YOLOv5n checkpoints of `make dero-yolov5n BASELINE=1` (every epoch) ->
#                                         the same sweep with --dnn yolo (step 2^-15), COCO mAP before/after decoding
#   make bench-param-encode [MINI=1]      MB/s and bits/param of every method vs zstd/lz4/byte grouping
# Stages are files: <run>/checkpoints/.complete, <run>/eval/.complete, <run>/eval/bits_per_param.png.

PE_RUN := $(RUN_ROOT)/dnn-param-encode/resnet18
PE_CKPT := $(PE_RUN)/checkpoints
PE_EVAL := $(PE_RUN)/eval
PE_LOSSLESS_METHODS := ResEntropy ResPlaneANS ResIntDiffANS
PE_LOSSY_METHODS := Float16 ResidualFloat16 ResEntropy16bits Res16bitsJointANS ResRoundANS
ifeq ($(MINI),1)
PE_DATA := $(MINI_DATA)/imagenet
PE_DATA_READY := $(MINI_DATA)/.complete
# 64x64 mini images trained at 32x32, one constant-lr phase, with the paper's range(first, last - n, n) pairs.
# quick (`make demo`): 4 epochs, n = 1: pairs (1,2), (2,3). full (`make demo-full`): 11 epochs, n = 1, 3, 5:
# pairs 1..9 (n=1), (1,4),(4,7) (n=3), (1,6) (n=5). One torch thread: 2 threads on 2 shared cores run 10x slower
# under load.
ifeq ($(MINI_PROFILE),quick)
PE_EPOCHS := 4
PE_NS := 1
else
PE_EPOCHS := 11
PE_NS := 1 3 5
endif
PE_TRAIN_ARGS := --epochs $(PE_EPOCHS) --lr 0.01 --lr-step-size 1000 --batch-size 32 --image-size 32 --workers 0 \
	--threads 1 --dataset-label mini
PE_PHASES := 0.01:1:$(PE_EPOCHS)
PE_IMAGE_SIZE := 32
PE_LABEL := mini
else
PE_DATA := $(DATA)/imagenet
PE_DATA_READY := $(DATA)/imagenet/val
# pytorch/examples ImageNet recipe (the paper's ResNet-18): 90 epochs, lr 0.1 / 10 every 30 epochs, batch 256.
PE_TRAIN_ARGS := --epochs 90 --lr 0.1 --lr-step-size 30 --batch-size 256 --image-size 224 --workers 8
PE_PHASES := 0.01:31:60 0.001:61:90
PE_NS := 1 3 5
PE_IMAGE_SIZE := 224
PE_LABEL := imagenet
endif

# YOLOv5n: dero's yolov5-recipe run of the plain YOLOv5n keeps every epoch (epoch<N>.pt, float32, pickled model).
PE_YOLO_RUN := $(RUN_ROOT)/dnn-param-encode/yolov5n
PE_YOLO_SOURCE := $(RUN_ROOT)/dero/yolo/yolov5n
ifeq ($(MINI),1)
ifeq ($(MINI_PROFILE),quick)
# dero's 8 quick epochs: pairs (5,6), (6,7), n = 1 only
PE_YOLO_PHASES := 0.01:5:$(DERO_YOLO_EPOCHS)
PE_YOLO_NS := 1
else
# the second half of dero's 40 mini epochs (the paper's pairs start at epoch 21 too)
PE_YOLO_PHASES := 0.01:21:$(DERO_YOLO_EPOCHS)
PE_YOLO_NS := $(PE_NS)
endif
PE_YOLO_IMAGE_SIZE := 128
else
PE_YOLO_PHASES := 0.01:21:100
PE_YOLO_NS := $(PE_NS)
PE_YOLO_IMAGE_SIZE := 640
endif

##@ dnn-param-encode (residual parameter encoding, KBS 2023)
.PHONY: param-encode-resnet18 param-encode-yolov5n bench-param-encode
param-encode-resnet18: $(PE_EVAL)/bits_per_param.png ## Train ResNet-18 per-epoch checkpoints, code every pair (n=1,3,5; MINI=1 quick: n=1), plot

$(PE_CKPT)/.complete: | $(PE_DATA_READY)
	$(PY) -m dnn_param_encode.train_resnet18 --data-path $(PE_DATA) --output-dir $(PE_CKPT) --seed $(SEED) $(PE_TRAIN_ARGS)

$(PE_EVAL)/.complete: $(PE_CKPT)/.complete
	PY=$(PY) PATH_PT=$(PE_CKPT) OUT_DIR=$(PE_EVAL) PHASES="$(PE_PHASES)" NS="$(PE_NS)" DATA_DIR=$(PE_DATA) \
	IMAGE_SIZE=$(PE_IMAGE_SIZE) DATASET_LABEL=$(PE_LABEL) LOSSLESS_METHODS="$(PE_LOSSLESS_METHODS)" \
	LOSSY_METHODS="$(PE_LOSSY_METHODS)" dnn-param-encode/scripts/eval_resnet18.sh
	touch $@

$(PE_EVAL)/bits_per_param.png: $(PE_EVAL)/.complete
	$(PY) -m dnn_param_encode.plot --input-dir $(PE_EVAL) --output $@

param-encode-yolov5n: $(PE_YOLO_RUN)/eval/bits_per_param.png ## YOLOv5n pairs (dero-yolov5n BASELINE=1 epochs): bits/param, mAP before/after decoding

$(PE_YOLO_RUN)/checkpoints/.complete: $(PE_YOLO_SOURCE)/train.done
	$(PY) -m dnn_param_encode.prepare_yolov5n --run-dir $(PE_YOLO_SOURCE) --output-dir $(@D) --learning-rate 0.01

$(PE_YOLO_RUN)/eval/.complete: $(PE_YOLO_RUN)/checkpoints/.complete
	PY=$(PY) PATH_PT=$(PE_YOLO_RUN)/checkpoints OUT_DIR=$(PE_YOLO_RUN)/eval PHASES="$(PE_YOLO_PHASES)" DNN=yolo NS="$(PE_YOLO_NS)" \
	DATA_DIR=$(DERO_COCO) IMAGE_SIZE=$(PE_YOLO_IMAGE_SIZE) DATASET_LABEL=$(PE_LABEL) LOSSLESS_ACCURACY=1 \
	LOSSLESS_METHODS="$(PE_LOSSLESS_METHODS)" LOSSY_METHODS="$(PE_LOSSY_METHODS)" dnn-param-encode/scripts/eval_resnet18.sh
	touch $@

$(PE_YOLO_RUN)/eval/bits_per_param.png: $(PE_YOLO_RUN)/eval/.complete
	$(PY) -m dnn_param_encode.plot --input-dir $(PE_YOLO_RUN)/eval --output $@

bench-param-encode: ## Encode/decode MB/s and bits/param of every method vs zstd-3, lz4, byte grouping + zstd
	$(PY) -m dnn_param_encode.bench --path-pt $(PE_CKPT) --output $(PE_RUN)/bench.csv

DEMO_TARGETS += param-encode-resnet18 param-encode-yolov5n
# In `make demo-full`, after dero-yolov5n (both train under $(RUN_ROOT)/dero/yolo).
DEMO_AFTER_param-encode-yolov5n := dero-yolov5n
BENCH_TARGETS += bench-param-encode
