// Package model provides reference trainers for fedgo's examples, tests and
// benchmarks: multinomial logistic regression ([Softmax]), a multilayer
// perceptron with ReLU hidden layers ([MLP]) and convolutional networks
// ([Sequential], with [NIIDBenchCNN], the CNN of Flower's niid_bench),
// trained by minibatch SGD with optional momentum, weight decay and the
// FedProx proximal term, behind [fl.Trainer] and [fl.Evaluator].
//
// It is a reference and benchmark trainer, not a deep-learning framework:
// float64 only, five layer types, SGD. A host with a real
// model writes its own fl.Trainer around its own framework; this package
// gives the rest of fedgo a known, deterministic workload, the
// "client compute" of a simulation, and a baseline to measure against.
//
// # Models
//
// A [Model] knows its parameter count, its shape and its initialisation,
// and hands out a [Workspace] that computes the mean softmax cross-entropy
// of a minibatch and its gradient without allocating. Parameters are always
// one flat []float64 (the layouts are documented on [Softmax], [MLP] and
// the layers of [Sequential], whose layout is PyTorch's),
// which is what fedgo aggregates, clips, compresses and masks. Softmax
// scores use a numerically stable softmax (the maximum subtracted) and the
// loss is computed as log-sum-exp minus the label's score, so no exp
// overflows.
//
// A [Sequential] network composes [Conv2D] (valid or same padding, any
// stride), [MaxPool2D], [ReLU], [Flatten] and [Dense]; each layer's
// forward and backward pass is written once and serves training and
// evaluation. A convolution is a matrix product of its filters and its
// unrolled input (im2col) for the whole minibatch at once (K. Chellapilla,
// S. Puri and P. Simard, "High Performance Convolutional Neural Networks
// for Document Processing", 2006), 256 output pixels at a time; with
// stride 1 and no padding in use (the niid_bench CNN) the unrolled input
// is read in place from the input rather than copied. The products of the
// convolutional and dense layers are sequences of axpys and dots whose
// order of operations is fixed per output value; on amd64 with AVX2 they
// run on register-blocked assembly (4×8 and 2×8 output blocks held in
// registers across a whole axpy sequence, 2×4 blocks of dots), elsewhere
// on the portable definitions, with the same bits (see Invariants).
// BenchmarkCNNTrain compares training with blas64.Gemm on the same matrix
// shapes (BenchmarkCNNGemmFloor) and BenchmarkCNNLayers times each layer.
//
// # Training
//
// [Trainer.Train] copies the global parameters wᵗ, runs the round's epochs
// of minibatch SGD on the local data and returns the update local − global,
// weighted by the number of training examples. Each step is
//
//	w ← w − lr·(∇F_k(w) + λw + μ(w − wᵗ))
//
// where F_k is the minibatch mean cross-entropy, λ the optional L2 weight
// decay and μ(w − wᵗ) the gradient of the proximal term μ/2‖w − wᵗ‖² of
// FedProx: T. Li, A. K. Sahu, M. Zaheer, M. Sanjabi, A. Talwalkar and
// V. Smith, "Federated Optimization in Heterogeneous Networks", MLSys 2020,
// §3.2, local objective (2). With μ = 0 it is the local update of FedAvg
// (McMahan et al. 2017). The round's [fl.Config] overrides the learning
// rate, epochs, minibatch size and μ with [fl.KeyLR], [fl.KeyEpochs],
// [fl.KeyBatchSize] and [fl.KeyMu], and β and λ with this package's
// [KeyMomentum] ("momentum") and [KeyWeightDecay] ("weight_decay"). The
// settings of niid_bench (Fashion-MNIST: lr 0.01, momentum 0.9, weight
// decay 1e-5, minibatches of 64, 10 local epochs) are therefore
//
//	fl.Config{fl.KeyLR: 0.01, model.KeyMomentum: 0.9, model.KeyWeightDecay: 1e-5,
//		fl.KeyBatchSize: 64, fl.KeyEpochs: 10}
//
// [Trainer.TrainCorrected] adds a fixed correction vector to every
// minibatch gradient (SCAFFOLD's c − c_i, FedDyn's −∇L_k(θ_k); package
// fl/drift), and every update reports its local step count τ
// ([KeySteps]) and learning rate ([KeyStepLR]) in its Metrics, which
// FedNova and SCAFFOLD need. [Trainer.TrainFrom] starts the local model
// from a vector other than the anchor of the proximal term (Ditto's
// personal model v_k, trained toward the global wᵗ; package fl/personal).
//
// The host's duties:
//
//  1. Build one [Trainer] per simulated or real client, with its own local
//     data and Seed, through [NewTrainer].
//  2. Initialise the global model once, with [Model.Init] and a seeded
//     source, and hand it to the server.
//  3. Leave the data sets untouched while a Trainer may read them.
//  4. Run a Trainer from one goroutine at a time (see below).
//
// # Concurrency
//
// A [Trainer] (and a [Workspace]) is not safe for concurrent use: it reuses
// its buffers from call to call. Different Trainers share nothing, so a
// simulation runs as many side by side as it has workers. The kernels run
// serially in the caller's goroutine: no goroutine is started, the
// parallelism of a simulation is across clients. [Evaluate] and the Model
// values are safe for concurrent use.
//
// # Invariants
//
//   - Deterministic: the minibatch order of a round comes from a PCG seeded
//     with the Trainer's Seed and the round number (cfg[fl.KeyRound]) alone,
//     so the same seed and round give the same bits, whatever was trained
//     before and whatever the goroutine schedule. The kernels run serially
//     and sum in an order fixed by the shapes alone (the column chunks of a
//     convolution included), never by GOMAXPROCS.
//   - Same bits on every machine: the vector kernels have a portable
//     definition that gonum's amd64 assembly matches bit for bit
//     (TestVecFastEqualsGo); the blocked products of Sequential's layers
//     are the same axpys and dots in the same order per output value, and
//     their AVX2 assembly (VMULPD then VADDPD, never a fused multiply-add)
//     matches their portable definitions bit for bit, signed zeros,
//     subnormals, infinities and NaNs included (TestBlockedFastEqualsGo;
//     the build tags noasm and purego select the portable code on amd64,
//     as does a CPU without AVX2); products are rounded before they are
//     added (no fused multiply-add on arm64 and the like), the softmax uses
//     internal/detmath's exp and log rather than math's, whose amd64
//     assembly uses FMA where the CPU has it, and Init draws its normal
//     weights with detmath.Normal rather than NormFloat64, which calls
//     them. TestTrainGoldenBits holds the digest of a round's delta, which
//     a 386 build reproduces and which the blocked kernels left unchanged.
//   - Nothing silently wrong: a global vector of the wrong length or with a
//     NaN or Inf, an out-of-range hyperparameter, data that does not fit
//     the model, and training that diverges to NaN or Inf are errors
//     ([ErrParamsLength], [ErrNotFinite], [ErrInvalidConfig],
//     [ErrInvalidData], [ErrDiverged]), never a panic or a poisoned update.
//   - Train never modifies the global vector it is given; each Update's
//     Delta is newly allocated and belongs to the caller.
//   - Once warm, training allocates nothing per minibatch: a Train call
//     allocates the Delta and the Metrics map only.
//   - Memory does not grow with the minibatch size a server asks for: a
//     Trainer's workspace holds at most 128 examples, and a larger
//     minibatch is computed in chunks of 128 (its gradient the
//     example-weighted mean of theirs).
//   - Cancellation: Train and Evaluate check their context between
//     minibatches (chunks of examples) and return ctx.Err().
package model
