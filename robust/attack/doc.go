// Package attack crafts Byzantine updates for simulations that evaluate the
// robust aggregators of package robust.
//
// An [Attack] sees the honest updates of a round and returns the f
// malicious ones. Omniscient attacks ([ALIE], [IPM], [MinMax], [MinSum],
// [SignFlip], [Mimic]) use the honest updates as their papers do;
// [LineMax] tunes the scale of ALIE or IPM against a given pipeline each
// round (the "optimal" ALIE and IPM);
// [Gaussian] ignores their values; [None] crafts nothing; [LabelFlip] works
// on data, through the [Poisoner] interface.
//
// Do not use this package outside simulations and tests: it exists to
// measure defences, and nothing in it is needed to train a model.
//
// # Host duties
//
//  1. Each round, collect the honest updates, call Craft with a rand.Rand
//     seeded from the simulation's seed, and append f updates built from
//     the returned vectors (with client names and weights of the host's
//     choosing) before calling the aggregator.
//  2. For a [Poisoner] ([LabelFlip]), poison the Byzantine clients' data
//     once, train them like the others, and do not call Craft (it returns
//     [ErrDataLevel]).
//  3. For [None], Craft returns no vectors: run the round with the honest
//     updates only.
//
// # Concurrency
//
// The attacks are values without state and are safe for concurrent use;
// the rand.Rand passed to Craft is not.
//
// # Invariants
//
// Craft never modifies the honest updates, returns newly allocated vectors
// of their dimension, and draws randomness only from its rng argument, so
// a simulation is reproducible from its seed. Bad input (no honest
// updates, mismatched lengths, NaN or Inf, f < 0, parameters out of range)
// gives an error, never a panic.
//
// # References
//
//   - Baruch, Baruch and Goldberg (2019), "A Little Is Enough: Circumventing
//     Defenses For Distributed Learning", NeurIPS: [ALIE].
//   - Xie, Koyejo and Gupta (2020), "Fall of Empires: Breaking
//     Byzantine-tolerant SGD by Inner Product Manipulation", UAI: [IPM].
//   - Shejwalkar and Houmansadr (2021), "Manipulating the Byzantine:
//     Optimizing Model Poisoning Attacks and Defenses for Federated
//     Learning", NDSS: [MinMax], [MinSum].
//   - Allouah, Farhadkhani, Guerraoui, Gupta, Pinot and Stephan (2023),
//     "Fixing by Mixing", AISTATS: the optimized attacks of [LineMax].
//   - Karimireddy, He and Jaggi (2022), "Byzantine-Robust Learning on
//     Heterogeneous Datasets via Bucketing", ICLR: [Mimic].
//   - Allouah et al. (2023), "Fixing by Mixing", AISTATS: [SignFlip].
//   - Xie, Koyejo and Gupta (2018), "Generalized Byzantine-tolerant SGD":
//     [Gaussian].
package attack
