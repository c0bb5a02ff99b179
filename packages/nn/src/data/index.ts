// Data for language-model training: corpora, tokenizers, the token cache and batches.
export * from './tokenizer.js';
export * from './corpus.js';
export * from './tokens.js';
export * from './batches.js';
export * from './prepare.js';
