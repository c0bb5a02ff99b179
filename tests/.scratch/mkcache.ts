import { prepareData } from '@cce/nn';
const d = await prepareData({ tokenizer: 'bpe', context: 128, cacheDir: process.argv[2] });
console.log('tokens', d.train.length, d.validation?.length ?? '');
