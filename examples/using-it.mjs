// The loss of a linear classifier over hidden states by Cut Cross-Entropy, and its gradients.
import * as C from '@cce/core';
import '@cce/backend-webgpu'; // backends register themselves on import;
import '@cce/backend-gpujs'; //  useBackend() starts the best one that works here
import { linearCrossEntropy } from '@cce/cce';

await C.useBackend(); // prints the backend chosen and why

const [N, D, V] = [64, 32, 1000]; // tokens, hidden size, vocabulary
const hidden = C.randn([N, D], { seed: 1 });
const classifier = C.randn([V, D], { seed: 2, std: 0.1 });
const targets = C.randint([N], 0, V, { seed: 3 });
hidden.requiresGrad = true;
classifier.requiresGrad = true;

// Mean over tokens of logsumexp(classifier · hidden_i) - classifier[target_i] · hidden_i, computed
// without the N x V logits.
const loss = linearCrossEntropy(hidden, classifier, targets);
C.backward(loss); // fills hidden.grad and classifier.grad

const norm = (values) => Math.sqrt(values.reduce((s, v) => s + v * v, 0));
console.log(`loss ${(await loss.item()).toFixed(6)}`);
console.log(`|d loss / d hidden| ${norm(await hidden.grad.toArray()).toFixed(6)}`);
console.log(`|d loss / d classifier| ${norm(await classifier.grad.toArray()).toFixed(6)}`);
