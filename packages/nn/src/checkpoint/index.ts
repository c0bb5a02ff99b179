// Checkpoint files: safetensors, atomic checkpoint directories, GPT-2 naming.
export * from './safetensors.js';
export * from './atomic-dir.js';
export * from './checkpoint.js';
export * from './gpt2.js';
