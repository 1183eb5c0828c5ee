"""dlrun's Hydra sweeper plugin (Hydra finds plugins only in the hydra_plugins namespace
package). Hydra imports every module here at start-up, so they import nothing heavy."""
