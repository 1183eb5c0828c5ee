"""Models (domain layer): the model table (zoo), the families (mlp, cnn, resnet, rnn, tcn,
transformer) built from one backbone plus an input stem per modality (stems, layers), and
the activation and norm choices. Imports: dlrun.base only; torch inside the builders'
modules, never in zoo or choices (validation reads them).
"""
