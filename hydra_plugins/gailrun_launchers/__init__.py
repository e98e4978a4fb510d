"""gailrun's Hydra launchers for clusters: submitit on SLURM and Ray, waiting for every job of a sweep and
recording the jobs that were cancelled or lost (`gailrun.run.sweep.record_lost_job`) instead of stopping
at the first. Configs: conf/hydra/launcher/slurm.yaml and ray_cluster.yaml."""
