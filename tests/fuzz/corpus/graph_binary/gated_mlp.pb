
1
xInput"
dtype8"
shape2
ÿÿÿÿÿÿÿÿÿ
®
layer1/w	Parameter"–
valueŒB‰€e4¾ëÃ²¾qŽ>«éÚ¾ù=Óˆ	¾ôMâ¾°©ó;SÍì¾›ä‡½÷;Ü¾ŽÑ¾È•š½%Y§>À¾ž³¾Ì}>:å>-è=p™Ó½²×ó>F&è¾‰·>½pW¾5$¶¾Ä°Ã¾KD¾DÛ¡>âw£¾ç§=6?>ª¾
I
layer1/b	Parameter"2
value)B' is<Ë³½Ic´½¨àp½ŸÈ=éEm¼ž@½w.Œ<
¬
gate/w	Parameter"–
valueŒB‰€"Â?½á	M¾Ø¸–>ÅK>¸ƒ¾œk˜=ðiÎ<õÀ>¡ój>È&Y¾Ùõ>ÚŒÃ¾!¯§½ü§ƒ>/²¾‰Ô4¼íë¾Ñ@,>Úu‡>¨Ž•=§>À>Ø¸>¾jûG>EÁ=ýŸ£=cb3½I®>:­ã>n0Ô¼v(>þïà¾ëSN>
G
gate/b	Parameter"2
value)B' Ëñ<ÂøÉ=HÜƒ=´u0½%»¼„)
=°ŽÃ½ 	û»
ˆ
head/w	Parameter"s
valuejBh`õ©¾þÄ¾ÈÐá¾ÖU‰>&Ç½¾›8¾›Uß½+¾>¾Ö¾K!P½™J=èJÄ>«x£>\º>›åb¾Äx­½Vž¾ò´Ä>¸[ê>|º²¾ÁÆ¥¾ï<‰¾/ˆˆ¾À]v¼
3
head/b	Parameter"
valueB¼’<û[B½hË½
$
layer1/matmulMatMulxlayer1/w
*

layer1/preAddlayer1/matmullayer1/b

layer1/tanhTanh
layer1/pre
 
gate/matmulMatMulxgate/w
$
gate/preAddgate/matmulgate/b
!
gate/sigmoidSigmoidgate/pre
(
hiddenMullayer1/tanhgate/sigmoid
%
head/matmulMatMulhiddenhead/w
"
logitsAddhead/matmulhead/b
-
probsSoftmaxlogits"
axisÿÿÿÿÿÿÿÿÿprobslogits