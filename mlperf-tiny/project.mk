# mlperf-tiny: one fragment per task under mlperf-tiny/mk/ (kws.mk, ic.mk, vww.mk, ad.mk).
##@ mlperf-tiny (MLPerf Tiny v0.5 training reference)
include $(wildcard mlperf-tiny/mk/*.mk)
