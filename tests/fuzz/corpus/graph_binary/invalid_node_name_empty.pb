
(
xInput"
dtype8"
shape2

	Tanhx