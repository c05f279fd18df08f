package fl

import "context"

// An Update is one client's contribution to a round.
type Update struct {
	// Client names the client that produced the update.
	Client string
	// Delta is the client's local parameters minus the global parameters it
	// started from.
	Delta []float64
	// Weight is the update's weight in a weighted mean, usually the number of
	// local training examples. It must be finite and positive.
	Weight float64
	// Metrics are what the client reported (for example "loss").
	Metrics Metrics
}

// Metrics are named measurements, such as "loss", "accuracy" or "examples".
type Metrics map[string]float64

// Config holds the per-round hyperparameters that the server sends to
// clients. Well-known keys are listed as the Key... constants.
type Config map[string]float64

// Well-known keys of [Config] and [Metrics].
const (
	KeyRound        = "round"         // Config: the round number, set by the server
	KeyLR           = "lr"            // Config: local learning rate
	KeyEpochs       = "epochs"        // Config: local epochs
	KeyBatchSize    = "batch_size"    // Config: local minibatch size
	KeyMu           = "mu"            // Config: FedProx proximal coefficient μ
	KeyDeadline     = "deadline"      // Config: seconds the client has to answer, when the round has a deadline
	KeyLoss         = "loss"          // Metrics: mean loss
	KeyAccuracy     = "accuracy"      // Metrics: fraction of correct predictions
	KeyExamples     = "examples"      // Metrics: number of examples behind the other metrics
	KeyTrainSeconds = "train_seconds" // Metrics: wall time spent inside Trainer.Train
)

// Get returns c[key], or def when key is absent.
func (c Config) Get(key string, def float64) float64 {
	if v, ok := c[key]; ok {
		return v
	}
	return def
}

// Clone returns a copy of c.
func (c Config) Clone() Config {
	if c == nil {
		return nil
	}
	out := make(Config, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// Trainer is written by the host: local training on local data.
//
// Train starts from a copy of the global parameters (it must not keep or
// modify global after it returns) and returns the change it made to them.
type Trainer interface {
	Train(ctx context.Context, global []float64, cfg Config) (Update, error)
}

// Evaluator is optional: federated evaluation on a client's held-out data.
// Its metrics should include [KeyExamples] so that the server can weight them.
type Evaluator interface {
	Evaluate(ctx context.Context, params []float64) (Metrics, error)
}

// Message types used by the core engine. Protocols layered on top (secure
// aggregation, for example) use their own, prefixed with their name and a
// slash ("secagg/share-keys").
const (
	TypeTrain    = "train"    // server → client: train on Params with Config
	TypeUpdate   = "update"   // client → server: Params holds the update's Delta
	TypeEvaluate = "evaluate" // server → client: evaluate Params
	TypeMetrics  = "metrics"  // client → server: Metrics of an evaluation
)

// Message is what travels between server and client.
type Message struct {
	Type    string    // one of the Type... constants, or a protocol step
	Round   int       // the round the message belongs to
	Params  []float64 // a dense vector, when not encoded in Payload
	Payload []byte    // an encoded vector or a protocol message
	Weight  float64   // the weight of an update
	Config  Config    // hyperparameters, server → client
	Metrics Metrics   // measurements, client → server
}

// Aggregator turns the updates of a round into one update, written to dst.
// Updates arrive in a fixed order (the order in which the clients were
// sampled), so a deterministic aggregator gives the same bits every run.
type Aggregator interface {
	Aggregate(dst []float64, updates []Update) error
}

// ServerOptimizer moves the global parameters along the aggregated update.
type ServerOptimizer interface {
	Step(params, delta []float64)
}

// Validator is implemented by an [Aggregator] with preconditions on the
// number of updates it aggregates (Krum needs n > 2f+2, for example). The
// server checks it before round 1 against the clients a round samples and
// against the quorum, so that a configuration that cannot work is refused
// before any client is contacted.
type Validator interface {
	Validate(n int) error
}
