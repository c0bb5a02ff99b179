export * from './basic.js';
export * from './attention.js';
export * from './gpt.js';
export * from './gpt-checkpoint.js';
export * from './fused-attention.js';
