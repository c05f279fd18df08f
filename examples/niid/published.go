package main

// publishedSource names where the published numbers come from.
const publishedSource = "Flower baselines/niid_bench README, Expected Results, FMNIST (github.com/adap/flower, " +
	"baselines/niid_bench/README.md at commit 73ec95c): best test accuracy over 50 rounds, mean ± std over seeds, " +
	"10 clients all per round, 10 local epochs, batch 64, lr 0.01, momentum 0.9, weight decay 1e-5, FedProx μ = 0.01; " +
	"the settings of Li, Diao, Chen and He, \"Federated Learning on Non-IID Data Silos: An Experimental Study\", ICDE 2022"

// score is a published accuracy in percent: the mean and standard
// deviation over seeds.
type score struct{ mean, std float64 }

// published holds Fashion-MNIST accuracies of Flower's niid_bench
// reproduction of Li et al. 2022 (see publishedSource), by split and
// algorithm, for 10 clients. Splits are keyed as [split.key] writes them.
// FedDyn has no published number in that table.
var published = map[string]map[string]score{
	"iid":      {"fedavg": {89.23, 0.45}, "scaffold": {89.33, 0.27}, "fedprox": {89.42, 0.09}, "fednova": {89.36, 0.09}},
	"dir(0.5)": {"fedavg": {88.09, 0.29}, "scaffold": {88.44, 0.25}, "fedprox": {88.15, 0.42}, "fednova": {88.22, 0.12}},
	"#C=1":     {"fedavg": {28.39, 17.09}, "scaffold": {10.00, 0.00}, "fedprox": {32.65, 6.68}, "fednova": {16.86, 9.30}},
	"#C=2":     {"fedavg": {78.10, 2.51}, "scaffold": {33.80, 41.22}, "fedprox": {78.05, 0.99}, "fednova": {71.67, 2.34}},
	"#C=3":     {"fedavg": {82.43, 1.52}, "scaffold": {80.32, 5.03}, "fedprox": {82.99, 0.48}, "fednova": {81.97, 1.34}},
}

// lookupPublished returns the published score of an algorithm on a split
// of Fashion-MNIST among 10 clients, if there is one.
func lookupPublished(dataset string, clients int, sp split, algorithm string) (score, bool) {
	if dataset != "fashion-mnist" || clients != 10 {
		return score{}, false
	}
	s, ok := published[sp.key()][algorithm]
	return s, ok
}
