/**
 * onnxruntime-node, with its telemetry off. Every part of palisade that creates an ONNX
 * session imports the runtime from here.
 *
 * onnxruntime-node 1.30 (Linux) records an event for every session it creates (the
 * model's graph name, producer and metadata, the OS, the executable's path, a device id)
 * in ~/.cache/Microsoft/DeveloperTools/.onnxruntime, queued for Microsoft's collector,
 * unless ORT_DISABLE_TELEMETRY is set when the runtime initializes, which is at its first
 * session (not at import). A security gateway does not tell a third party which models it
 * runs, nor write to its home directory (a read-only root logs a warning for each try),
 * so this sets the variable before any session exists. An operator who sets it either way
 * is obeyed. test/detect/ort-telemetry.test.ts checks it in a gateway process.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export * from 'onnxruntime-node';
