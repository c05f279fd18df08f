// Package dataset provides the data side of federated-learning
// experiments: synthetic federated data sets, partitioners that split a
// centralised data set among clients, and loaders for the common file
// formats. Everything is held in one type, [Dataset], a row-major float64
// matrix with integer labels.
//
// It is for simulations, examples, tests and benchmarks. A deployment
// keeps its data on the devices and does not need this package, though
// its loaders are safe on untrusted files.
//
// # Contents
//
//   - Generators: [Synthetic], the Synthetic(α, β) and Synthetic-IID data
//     sets of Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated
//     Optimization in Heterogeneous Networks", MLSys 2020, §5.1 and their
//     released generate_synthetic.py / generate_iid.py; [Blobs], Gaussian
//     clusters.
//   - Partitioners returning index lists, one per client: [IID] (equal
//     sizes), [Dirichlet] (label skew with proportions Dir(α) per class,
//     Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data
//     Distribution for Federated Visual Classification", 2019),
//     [DirichletBalanced] (the same, capped at the mean size and redrawn
//     to a minimum size, as NIID-Bench and Flower's niid_bench draw it),
//     [Shards] (sort by label, deal shards; McMahan, Moore, Ramage,
//     Hampson and Agüera y Arcas, "Communication-Efficient Learning of Deep
//     Networks from Decentralized Data", AISTATS 2017) and
//     [LabelQuantity] (#C=k: k labels per client, Li, Diao, Chen and He,
//     "Federated Learning on Non-IID Data Silos: An Experimental Study",
//     ICDE 2022). Use
//     [Dataset.Subset] to materialise a client's data.
//   - Loaders: [ReadIDX], [ReadIDXFile], [LoadIDXDataset] (the MNIST IDX
//     format, plain or gzip), [LoadFashionMNIST], [ReadCSV] and
//     [ReadLEAF] (the JSON format of the LEAF benchmark, Caldas et al.
//     2018).
//
// # Real data
//
// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; 60,000 training and
// 10,000 test images of 28×28 pixels, 10 classes) comes from the Debian
// package dataset-fashion-mnist, which installs the four gzip IDX files
// in [DefaultFashionMNISTDir]:
//
//	apt-get install dataset-fashion-mnist
//
// When the files are missing [LoadFashionMNIST] returns an error wrapping
// [ErrNotFound] that says so. Tests that need the data skip when it is
// absent, except under CI=true, where its absence fails them.
//
// # Notes on Synthetic(α, β)
//
// α and β are standard deviations, as in the reference script (numpy's
// normal(0, α)). Because u_k shifts every entry of W_k and b_k equally, it
// adds the same amount to every class's logit: the labels, and so the
// data, do not depend on α at all; models differ across devices because
// each device draws its own W_k. β moves each device's features, and with
// them the label distribution. The paper's text gives an 80/20 split per
// device; the released script keeps 90/10 (set TestFraction to 0.1 for
// that). Samples per device are ⌊lognormal(4, 2)⌋ + 50, mean ≈ 453 with a
// heavy tail; [SyntheticConfig.MaxSamples] caps it.
//
// # Host duties
//
//  1. Seed every generator and partitioner: all randomness comes from
//     SyntheticConfig.Seed, BlobsConfig.Seed or the *rand.Rand passed in.
//  2. Set [Limits] (and [CSVConfig.MaxRows]) to what the host can hold
//     when reading files it does not trust; the defaults allow 1 GiB.
//  3. Install dataset-fashion-mnist where real data is wanted.
//
// # Concurrency
//
// Functions have no shared state and may run concurrently. A [Dataset] is
// a plain value: concurrent reads are safe, writes need the caller's
// synchronisation. A *rand.Rand passed in must not be shared with
// concurrent users.
//
// # Invariants
//
//   - Deterministic: the same config or the same seeded *rand.Rand gives
//     the same output, bit for bit, on every CPU and GOARCH: normal draws,
//     exp, log and pow come from internal/detmath rather than math/rand's
//     NormFloat64 and math's (whose bits depend on FMA and assembly), and
//     products are rounded before they are added. Device k of [Synthetic]
//     depends only on the seed and k, not on the number of clients.
//   - Partitions: every index appears in exactly one client's list, and no
//     client is empty.
//   - Loaders check every size read from the input against the limits and
//     the data actually present before allocating for it, and return
//     errors wrapping [ErrMalformed], [ErrTooLarge], [ErrInvalid],
//     [ErrUnsupported] or [ErrNotFound], never panics.
//   - Data sets returned by this package pass [Dataset.Validate].
package dataset
