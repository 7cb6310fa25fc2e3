"""Security components: output hygiene, HTTP hardening, injection defences and evaluation,
dependency audit and log scrubbing. Each module is self-contained; the pipeline and the app wire
them in. Nothing here may weaken a decision of the sensitivity gate."""
