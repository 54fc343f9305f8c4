# mlperf-tiny: one fragment per task under mlperf-tiny/mk/ (kws.mk, ic.mk, vww.mk, ad.mk).
include $(wildcard mlperf-tiny/mk/*.mk)
