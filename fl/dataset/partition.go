package dataset

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// dirichletRetries is how many times [Dirichlet] redraws the proportions
// when a client came out empty before it repairs the partition.
const dirichletRetries = 100

// IID partitions the indices 0…n−1 uniformly at random among clients
// parts whose sizes differ by at most one (the first n mod clients parts
// get the extra index). Every index appears in exactly one part. It
// returns an error wrapping [ErrInvalid] when clients < 1, n < 0 or
// n < clients (a client would be empty).
func IID(rng *rand.Rand, n, clients int) ([][]int, error) {
	if err := checkPartition(n, clients); err != nil {
		return nil, err
	}
	perm := rng.Perm(n)
	parts := make([][]int, clients)
	q, r := n/clients, n%clients
	off := 0
	for c := range parts {
		size := q
		if c < r {
			size++
		}
		parts[c] = perm[off : off+size : off+size]
		off += size
	}
	return parts, nil
}

// Dirichlet partitions the examples with the given labels among clients
// with label skew, as Hsu, Qi and Brown (2019) do: for each class
// independently, proportions p ~ Dir(α, …, α) over the clients are drawn
// and the class's examples, shuffled, are cut into consecutive pieces of
// sizes ⌊cumsum(p)·n_class⌋. Small α gives each client few classes; large
// α gives every client close to the global label distribution.
//
// Empty clients are avoided as is common practice (Yurochkin et al. 2019;
// Li et al. 2022, NIID-Bench): the whole draw is repeated, up to 100
// times, until every client has at least one example. If that fails (very
// small α with many clients per class) the last draw is repaired by
// moving one random example from the currently largest client to each
// empty one, so the result always has non-empty clients.
//
// Every index appears in exactly one part; each part is shuffled. It
// returns an error wrapping [ErrInvalid] when a label is outside
// [0, classes), alpha is not finite and positive, clients < 1 or there are
// fewer examples than clients.
func Dirichlet(rng *rand.Rand, labels []int, classes, clients int, alpha float64) ([][]int, error) {
	if err := checkPartition(len(labels), clients); err != nil {
		return nil, err
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%w: Dirichlet alpha = %v, want finite > 0", ErrInvalid, alpha)
	}
	byClass, err := groupByClass(labels, classes)
	if err != nil {
		return nil, err
	}
	p := make([]float64, clients)
	var parts [][]int
	for range dirichletRetries {
		parts = make([][]int, clients)
		for _, idx := range byClass {
			if len(idx) == 0 {
				continue
			}
			idx = shuffled(rng, idx)
			dirichlet(rng, p, alpha)
			cutClass(parts, idx, p)
		}
		if minLen(parts) > 0 {
			break
		}
	}
	repairEmpty(rng, parts)
	shuffleParts(rng, parts)
	return parts, nil
}

// cutClass appends to each part c its piece of the class's (shuffled)
// indices idx: consecutive pieces cut at ⌊(p_0+…+p_c)·len(idx)⌋, the last
// piece running to the end, for proportions p summing to 1.
func cutClass(parts [][]int, idx []int, p []float64) {
	cum, lo := 0.0, 0
	for c := range parts {
		cum += p[c]
		hi := int(cum * float64(len(idx)))
		if c == len(parts)-1 {
			hi = len(idx)
		}
		hi = min(max(hi, lo), len(idx))
		parts[c] = append(parts[c], idx[lo:hi]...)
		lo = hi
	}
}

// shuffled returns a shuffled copy of idx.
func shuffled(rng *rand.Rand, idx []int) []int {
	idx = slices.Clone(idx)
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	return idx
}

func shuffleParts(rng *rand.Rand, parts [][]int) {
	for _, part := range parts {
		rng.Shuffle(len(part), func(i, j int) { part[i], part[j] = part[j], part[i] })
	}
}

// balancedRetries bounds the redraws of [DirichletBalanced].
const balancedRetries = 1000

// DirichletBalanced is the Dirichlet label-skew partition exactly as
// NIID-Bench (Li, Diao, Chen and He 2022, "Federated Learning on Non-IID
// Data Silos: An Experimental Study", ICDE; its "noniid-labeldir") and
// Flower's baselines/niid_bench draw it, which differs from [Dirichlet]
// in two ways:
//
//   - a cap: the classes are dealt in order 0, 1, …, and when class k is
//     dealt, every client that already holds N/clients examples or more
//     (N = len(labels)) gets proportion 0, the others' Dir(α) proportions
//     renormalised to sum to 1 — so no client grows far past the mean
//     size;
//   - a minimum size: the whole draw is repeated until every client holds
//     at least minSize examples (NIID-Bench and niid_bench use 10).
//
// Each class's shuffled examples are cut at ⌊cumsum(p)·n_class⌋ as in
// [Dirichlet] (so, as in NIID-Bench, when rounding leaves the cumulative
// sum just below 1 the last client receives the one example left over,
// even at the cap). The redraw is bounded (1,000 draws); a configuration that
// cannot reach minSize returns an error wrapping [ErrInvalid] rather
// than looping, as do the errors of [Dirichlet] and minSize < 1 or
// minSize·clients > N. Every index appears in exactly one part; each
// part is shuffled.
func DirichletBalanced(rng *rand.Rand, labels []int, classes, clients int, alpha float64, minSize int) ([][]int, error) {
	if err := checkPartition(len(labels), clients); err != nil {
		return nil, err
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%w: DirichletBalanced alpha = %v, want finite > 0", ErrInvalid, alpha)
	}
	if minSize < 1 || minSize > len(labels)/clients {
		return nil, fmt.Errorf("%w: DirichletBalanced minSize = %d, want 1..%d (%d examples, %d clients)",
			ErrInvalid, minSize, len(labels)/clients, len(labels), clients)
	}
	byClass, err := groupByClass(labels, classes)
	if err != nil {
		return nil, err
	}
	capSize := float64(len(labels)) / float64(clients)
	p := make([]float64, clients)
	for range balancedRetries {
		parts := make([][]int, clients)
		ok := true
		for _, idx := range byClass {
			if len(idx) == 0 {
				continue
			}
			idx = shuffled(rng, idx)
			dirichlet(rng, p, alpha)
			sum := 0.0
			for c := range p {
				if float64(len(parts[c])) >= capSize {
					p[c] = 0
				}
				sum += p[c]
			}
			if !(sum > 0) { // every open client's proportion underflowed: draw again
				ok = false
				break
			}
			for c := range p {
				p[c] /= sum
			}
			cutClass(parts, idx, p)
		}
		if ok && minLen(parts) >= minSize {
			shuffleParts(rng, parts)
			return parts, nil
		}
	}
	return nil, fmt.Errorf("%w: DirichletBalanced: no draw in %d gave every one of %d clients %d examples (α = %v)",
		ErrInvalid, balancedRetries, clients, minSize, alpha)
}

// Shards partitions the examples with the given labels among clients as
// McMahan et al. (2017) do for pathological non-IID MNIST: the indices are
// sorted by label (stably), cut into clients·shardsPerClient consecutive
// shards whose sizes differ by at most one, and each client receives
// shardsPerClient shards chosen at random without replacement.
//
// A shard spans at most two labels when every class has at least as many
// examples as a shard, so a client sees at most 2·shardsPerClient labels,
// and at most shardsPerClient when class sizes are multiples of the shard
// size (60,000 MNIST images, 100 clients, 2 shards of 300). Every index
// appears in exactly one part. It returns an error wrapping [ErrInvalid]
// when clients or shardsPerClient < 1, a label is negative, or there are
// fewer examples than shards.
func Shards(rng *rand.Rand, labels []int, clients, shardsPerClient int) ([][]int, error) {
	if clients < 1 || shardsPerClient < 1 {
		return nil, fmt.Errorf("%w: Shards clients = %d, shardsPerClient = %d, want ≥ 1", ErrInvalid, clients, shardsPerClient)
	}
	if shardsPerClient > math.MaxInt/clients {
		return nil, fmt.Errorf("%w: Shards: %d·%d shards overflow", ErrInvalid, clients, shardsPerClient)
	}
	shards := clients * shardsPerClient
	if len(labels) < shards {
		return nil, fmt.Errorf("%w: Shards: %d examples for %d shards", ErrInvalid, len(labels), shards)
	}
	order := make([]int, len(labels))
	for i, y := range labels {
		if y < 0 {
			return nil, fmt.Errorf("%w: Shards: label %d of example %d is negative", ErrInvalid, y, i)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	bounds := make([]int, shards+1)
	q, r := len(labels)/shards, len(labels)%shards
	for s := range shards {
		size := q
		if s < r {
			size++
		}
		bounds[s+1] = bounds[s] + size
	}
	perm := rng.Perm(shards)
	parts := make([][]int, clients)
	for c := range parts {
		for _, s := range perm[c*shardsPerClient : (c+1)*shardsPerClient] {
			parts[c] = append(parts[c], order[bounds[s]:bounds[s+1]]...)
		}
	}
	return parts, nil
}

func checkPartition(n, clients int) error {
	if clients < 1 {
		return fmt.Errorf("%w: %d clients, want ≥ 1", ErrInvalid, clients)
	}
	if n < clients {
		return fmt.Errorf("%w: %d examples for %d clients; a client would be empty", ErrInvalid, n, clients)
	}
	return nil
}

// groupByClass returns the indices of each class, in increasing order.
func groupByClass(labels []int, classes int) ([][]int, error) {
	if classes < 1 {
		return nil, fmt.Errorf("%w: %d classes, want ≥ 1", ErrInvalid, classes)
	}
	byClass := make([][]int, classes)
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("%w: label %d of example %d out of range [0, %d)", ErrInvalid, y, i, classes)
		}
		byClass[y] = append(byClass[y], i)
	}
	return byClass, nil
}

func minLen(parts [][]int) int {
	m := math.MaxInt
	for _, p := range parts {
		m = min(m, len(p))
	}
	return m
}

// repairEmpty gives each empty part one random example of the currently
// largest part. The caller guarantees there are at least as many examples
// as parts, so the largest part has ≥ 2 examples while one is empty.
func repairEmpty(rng *rand.Rand, parts [][]int) {
	for c := range parts {
		if len(parts[c]) > 0 {
			continue
		}
		big := 0
		for i := range parts {
			if len(parts[i]) > len(parts[big]) {
				big = i
			}
		}
		j := rng.IntN(len(parts[big]))
		last := len(parts[big]) - 1
		parts[c] = append(parts[c], parts[big][j])
		parts[big][j] = parts[big][last]
		parts[big] = parts[big][:last]
	}
}

// LabelQuantity partitions the examples with the given labels among
// clients so that each client holds examples of exactly k labels: the
// quantity-based label imbalance "#C=k" of Li, Diao, Chen and He (2022,
// "Federated Learning on Non-IID Data Silos: An Experimental Study", ICDE,
// Section III-A), as NIID-Bench and Flower's baselines/niid_bench draw it.
// Client c is given label c mod classes and then k−1 further distinct
// labels chosen uniformly at random; the examples of each label, shuffled,
// are then split among the clients that hold it into parts whose sizes
// differ by at most one (the first clients in client order get the extra
// example).
//
// A label that no client holds (possible only when clients < classes) is
// left out of the partition; every other index appears in exactly one
// part, and each part is shuffled. It returns an error wrapping
// [ErrInvalid] when a label is outside [0, classes), k is not in
// [1, classes], clients < 1, or a client would be empty (a label it holds
// has fewer examples than the clients that share it).
func LabelQuantity(rng *rand.Rand, labels []int, classes, clients, k int) ([][]int, error) {
	if clients < 1 {
		return nil, fmt.Errorf("%w: LabelQuantity: %d clients, want ≥ 1", ErrInvalid, clients)
	}
	if k < 1 || k > classes {
		return nil, fmt.Errorf("%w: LabelQuantity: %d labels per client for %d classes, want 1..%d", ErrInvalid, k, classes, max(classes, 1))
	}
	byClass, err := groupByClass(labels, classes)
	if err != nil {
		return nil, err
	}
	holders := make([][]int, classes) // holders[y]: the clients that hold label y, in increasing order
	for c := range clients {
		held := []int{c % classes}
		for len(held) < k {
			if y := rng.IntN(classes); !slices.Contains(held, y) {
				held = append(held, y)
			}
		}
		for _, y := range held {
			holders[y] = append(holders[y], c)
		}
	}
	parts := make([][]int, clients)
	for y, hs := range holders {
		if len(hs) == 0 {
			continue
		}
		if len(byClass[y]) < len(hs) {
			return nil, fmt.Errorf("%w: LabelQuantity: label %d has %d examples for the %d clients that hold it; a client would lack it", ErrInvalid, y, len(byClass[y]), len(hs))
		}
		idx := shuffled(rng, byClass[y])
		q, r := len(idx)/len(hs), len(idx)%len(hs)
		off := 0
		for i, c := range hs {
			size := q
			if i < r {
				size++
			}
			parts[c] = append(parts[c], idx[off:off+size]...)
			off += size
		}
	}
	shuffleParts(rng, parts)
	return parts, nil
}
