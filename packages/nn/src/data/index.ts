// Data for language-model training: corpora, tokenizers, the token cache and batches.
export * from './tokenizer.js';
export * from './corpus.js';
export * from './corpus-files.js';
export * from './tokens.js';
export * from './token-cache.js';
export * from './sha256.js';
export * from './batches.js';
export * from './prepare.js';
