"""The offline demo model: a tiny SigLIP trained on procedurally generated coloured shapes.

``shapes`` draws the images, ``train`` trains the model that ships in ``demo/model``, and
``evaluate`` measures it on held-out images. See docs/demo-model.md.
"""
