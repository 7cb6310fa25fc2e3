"""Word lists the gate reads at run time (text files, loaded lazily by `routing.names`)."""
